// What the guest SDK costs per request: examples/hello (raw wasi:http) against the same answer
// written as an SDK fetch handler, both StarlingMonkey, through one gateway in one run.
// Usage: node bench/sdk.ts [--seconds 10 --runs 3 --connections 32]

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { buildEntry } from "../deploy-cli/build/index.ts";
import { buildGuest } from "../scripts/guests.ts";
import { push, startGateway } from "../test/harness/gateway.ts";
import { measure } from "./common.ts";
import type { WrkResult } from "./wrk.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "10" },
    runs: { type: "string", default: "3" },
    connections: { type: "string", default: "32" },
  },
});
const seconds = Number(values.seconds);
const runs = Number(values.runs);
const connections = Number(values.connections);

const SDK_HELLO = `export default {
  fetch(request: Request) {
    const { pathname, search } = new URL(request.url);
    return new Response(\`Hello from wasmgate! You asked for \${pathname}\${search}\\n\`, {
      headers: { "content-type": "text/plain; charset=utf-8" },
    });
  },
};
`;

function show(name: string, r: WrkResult): void {
  process.stdout.write(
    `${name.padEnd(34)} ${r.rps.toFixed(0).padStart(8)} req/s   p50 ${r.p50Ms.toFixed(2)} ms   p99 ${r.p99Ms.toFixed(2)} ms   errors ${r.errors}\n`,
  );
}

const work = await mkdtemp(join(tmpdir(), "wasmgate-bench-sdk-"));
const gw = await startGateway({ args: ["--log-level", "warn"] });
try {
  await writeFile(join(work, "index.ts"), SDK_HELLO);
  const sdk = await buildEntry({ entry: join(work, "index.ts"), out: join(work, "sdk-hello.wasm") });
  await push(gw, await buildGuest("example", "hello"), "hello", ["--host", "hello.localhost"]);
  await push(gw, sdk.path, "sdk", ["--host", "sdk.localhost"]);
  process.stderr.write(`wrk -t1 -c${connections} -d${seconds}s, median of ${runs} runs\n`);
  const run = (host: string) => measure(gw.dataUrl, { connections, seconds, runs }, { Host: host });
  const raw = await run("hello.localhost");
  show("wasmgate hello (raw wasi:http)", raw);
  const withSdk = await run("sdk.localhost");
  show("wasmgate hello (SDK fetch handler)", withSdk);
  process.stdout.write(`ratio SDK / raw: ${(withSdk.rps / raw.rps).toFixed(3)}x\n`);
} finally {
  await gw.dispose();
  await rm(work, { recursive: true, force: true });
}
