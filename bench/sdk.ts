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
import { measure, showWrk, WRK_FLAGS, wrkSettings } from "./common.ts";

const { values } = parseArgs({ options: WRK_FLAGS });
const settings = wrkSettings(values);
const { seconds, runs, connections } = settings;

const SDK_HELLO = `export default {
  fetch(request: Request) {
    const { pathname, search } = new URL(request.url);
    return new Response(\`Hello from wasmgate! You asked for \${pathname}\${search}\\n\`, {
      headers: { "content-type": "text/plain; charset=utf-8" },
    });
  },
};
`;

const work = await mkdtemp(join(tmpdir(), "wasmgate-bench-sdk-"));
const gw = await startGateway({ args: ["--log-level", "warn"] });
try {
  await writeFile(join(work, "index.ts"), SDK_HELLO);
  const sdk = await buildEntry({ entry: join(work, "index.ts"), out: join(work, "sdk-hello.wasm") });
  await push(gw, await buildGuest("example", "hello"), "hello", ["--host", "hello.localhost"]);
  await push(gw, sdk.path, "sdk", ["--host", "sdk.localhost"]);
  process.stderr.write(`wrk -t1 -c${connections} -d${seconds}s, median of ${runs} runs\n`);
  const run = (host: string) => measure(gw.dataUrl, settings, { Host: host });
  const raw = await run("hello.localhost");
  showWrk("wasmgate hello (raw wasi:http)", raw);
  const withSdk = await run("sdk.localhost");
  showWrk("wasmgate hello (SDK fetch handler)", withSdk);
  process.stdout.write(`ratio SDK / raw: ${(withSdk.rps / raw.rps).toFixed(3)}x\n`);
} finally {
  await gw.dispose();
  await rm(work, { recursive: true, force: true });
}
