// The KV counter (get + increment on Redis, StarlingMonkey guest) against hello through the gateway,
// in one run, plus the latency of single KV operations on the same Redis.
// Usage: node bench/counter.ts [--seconds 10 --runs 3 --connections 32]

import { parseArgs } from "node:util";
import { createRedisKvStore } from "../kv/index.ts";
import { buildGuest } from "../scripts/guests.ts";
import { push, startGateway } from "../test/harness/gateway.ts";
import { startRedisServer } from "../test/harness/redis-server.ts";
import { explainErrors, measure, percentile, showWrk, WRK_FLAGS, wrkSettings } from "./common.ts";

const { values } = parseArgs({ options: WRK_FLAGS });
const settings = wrkSettings(values);
const { seconds, runs, connections } = settings;

const [hello, counter] = [await buildGuest("example", "hello"), await buildGuest("example", "counter")];
const redis = await startRedisServer();
const gw = await startGateway({ args: ["--log-level", "warn"], env: { REDIS_URL: redis.url } });
try {
  await push(gw, hello, "hello", ["--host", "hello.localhost"]);
  await push(gw, counter, "counter", ["--host", "counter.localhost"]);
  process.stderr.write(`wrk -t1 -c${connections} -d${seconds}s, median of ${runs} runs\n`);
  const run = (host: string) => measure(gw.dataUrl, settings, { Host: host });
  const helloResult = await run("hello.localhost");
  showWrk("wasmgate hello (StarlingMonkey)", helloResult);
  const counterResult = await run("counter.localhost");
  showWrk("wasmgate KV counter (Redis)", counterResult);
  if (helloResult.errors + counterResult.errors > 0) await explainErrors(gw);
  process.stdout.write(`ratio counter / hello: ${(counterResult.rps / helloResult.rps).toFixed(3)}x\n`);

  // Single operations from this process, one at a time: the store's own latency.
  const store = createRedisKvStore({ url: redis.url });
  const ns = { tenant: "bench", bucket: "default" };
  for (const [name, op] of [
    ["increment", () => store.increment(ns, "k", 1n)],
    ["get", () => store.get(ns, "k")],
    ["set 1 KiB", () => store.set(ns, "v", new Uint8Array(1024))],
  ] as const) {
    const times: number[] = [];
    for (let i = 0; i < 5000; i++) {
      const t = performance.now();
      await op();
      times.push(performance.now() - t);
    }
    process.stdout.write(
      `KV ${name.padEnd(10)} p50 ${percentile(times, 50).toFixed(3)} ms   p99 ${percentile(times, 99).toFixed(3)} ms\n`,
    );
  }
  await store.close();
} finally {
  await gw.dispose();
  await redis.destroy();
}
