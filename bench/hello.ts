// Hello through the whole gateway (routing + worker + StarlingMonkey wasi:http guest) against a bare
// Hono hello, in the same run. Usage: npm run bench [-- --seconds 10 --runs 3 --connections 32]

import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { buildGuest } from "../scripts/guests.ts";
import { runCli, startGateway } from "../test/harness/gateway.ts";
import { best, type WrkResult, wrk } from "./wrk.ts";

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

async function bareHono<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const child = spawn(process.execPath, [fileURLToPath(new URL("./bare-hono.ts", import.meta.url))], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const [line] = (await once(createInterface({ input: child.stdout }), "line")) as [string];
  try {
    return await fn(`http://127.0.0.1:${JSON.parse(line).port}/`);
  } finally {
    child.kill("SIGTERM");
  }
}

function show(name: string, r: WrkResult): void {
  process.stdout.write(
    `${name.padEnd(34)} ${r.rps.toFixed(0).padStart(8)} req/s   p50 ${r.p50Ms.toFixed(2)} ms   p99 ${r.p99Ms.toFixed(2)} ms   errors ${r.errors}\n`,
  );
}

const hello = await buildGuest("example", "hello");
process.stderr.write(`wrk -t1 -c${connections} -d${seconds}s, median of ${runs} runs\n`);

const baseline = await bareHono((url) => best(runs, () => wrk(url, { connections, seconds })));
show("bare Hono hello", baseline);

const gw = await startGateway({ args: ["--log-level", "warn"] });
try {
  const push = await runCli(
    ["push", hello, "--app", "hello", "--host", "hello.localhost", "--gateway", gw.adminUrl],
    {
      WASMGATE_TOKEN: gw.token,
    },
  );
  if (push.code !== 0) throw new Error(`push failed: ${push.stderr}`);
  // Warm every worker's instances before measuring.
  await wrk(gw.dataUrl, { connections, seconds: 3, headers: { Host: "hello.localhost" } });
  const gateway = await best(runs, () =>
    wrk(gw.dataUrl, { connections, seconds, headers: { Host: "hello.localhost" } }),
  );
  show("wasmgate hello (StarlingMonkey)", gateway);
  process.stdout.write(`ratio wasmgate / bare Hono: ${(gateway.rps / baseline.rps).toFixed(3)}x\n`);
} finally {
  await gw.dispose();
}
