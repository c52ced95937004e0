// Key-value counters per core, in one run: miniflare's local KV (a get and a put per request,
// bench/miniflare-kv.ts; npm `miniflare`, installed on first use) against the fast-world counter
// (examples/counter-fast: a get and an increment) and the StarlingMonkey counter (examples/counter:
// one increment), each on the embedded store (SQLite) and on Redis, and the StarlingMonkey counter
// against the StarlingMonkey hello (and the fast-world counter against the fast-world hello, what
// its key-value calls cost). Every server on the same one core: both gateways, miniflare
// with its workerd, and the redis-server the benchmark starts (an in-process store and a store
// across a socket then share the same CPU). Then the latency of single KV operations on that
// Redis, from this process.
// Usage: npm run bench:counter [-- --seconds 10 --runs 3 --connections 32 --log-level warn]

import { execFile } from "node:child_process";
import { parseArgs, promisify } from "node:util";
import { createRedisKvStore } from "../kv/index.ts";
import { buildGuest } from "../scripts/guests.ts";
import { type GatewayProcess, get, push } from "../test/harness/gateway.ts";
import { startRedisServer } from "../test/harness/redis-server.ts";
import {
  describePairs,
  explainErrors,
  LOG_LEVEL_FLAG,
  logLevelLabel,
  measureRounds,
  miniflareKv,
  type NamedTarget,
  percentile,
  showRatio,
  showWrk,
  startBenchGateway,
  WRK_FLAGS,
  wrkSettings,
} from "./common.ts";
import { assertPinned, SERVER_CPUS } from "./pin.ts";

const run = promisify(execFile);

/** DESIGN.md: miniflare's KV get + put on one core, as measured when the goal was set. */
const MINIFLARE_GET_PUT_RPS = 1_234;

const { values } = parseArgs({ options: { ...WRK_FLAGS, ...LOG_LEVEL_FLAG } });
const settings = wrkSettings(values);
const logLevel = values["log-level"];
const label = logLevelLabel(logLevel);

const guests = {
  fast: await buildGuest("example", "counter-fast"),
  counter: await buildGuest("example", "counter"),
  hello: await buildGuest("example", "hello"),
  helloFast: await buildGuest("example", "hello-fast"),
};
describePairs(settings);

const NAMES = {
  miniflare: "miniflare KV get + put",
  fastSqlite: `fast-world counter, embedded${label}`,
  fastRedis: `fast-world counter, Redis${label}`,
  smSqlite: `StarlingMonkey counter, embedded${label}`,
  smRedis: `StarlingMonkey counter, Redis${label}`,
  smHello: `StarlingMonkey hello${label}`,
  fastHello: `fast-world hello${label}`,
};

async function expect(gw: GatewayProcess, host: string, pattern: RegExp): Promise<void> {
  const res = await get(gw, host, "/");
  if (res.status !== 200 || !pattern.test(res.text))
    throw new Error(`${host} answered ${res.status}: ${res.text}`);
}

const redis = await startRedisServer();
const gateways: GatewayProcess[] = [];
try {
  // redis-server's threads (its I/O and background threads) join the servers' CPUs.
  await run("taskset", ["-a", "-p", "-c", SERVER_CPUS, String(redis.pid)]);
  assertPinned(redis.pid!, SERVER_CPUS, "redis-server");
  const embedded = await startBenchGateway({ logLevel });
  gateways.push(embedded);
  const onRedis = await startBenchGateway({ logLevel, env: { REDIS_URL: redis.url } });
  gateways.push(onRedis);
  for (const gw of gateways) {
    await push(gw, guests.fast, "counter-fast", ["--host", "counter-fast.localhost"]);
    await push(gw, guests.counter, "counter", ["--host", "counter.localhost"]);
    await expect(gw, "counter-fast.localhost", /^\/ has been visited 1 time \(0 before\)/);
    await expect(gw, "counter.localhost", /^\/ has been visited 1 time/);
  }
  await push(embedded, guests.hello, "hello", ["--host", "hello.localhost"]);
  await push(embedded, guests.helloFast, "hello-fast", ["--host", "hello-fast.localhost"]);
  await miniflareKv(async (miniflareUrl, miniflarePid) => {
    const at = (gw: GatewayProcess, host: string, name: string): NamedTarget => ({
      name,
      url: gw.dataUrl,
      headers: { host },
      pid: gw.process.pid,
    });
    const results = await measureRounds(
      [
        { name: NAMES.miniflare, url: miniflareUrl, pid: miniflarePid },
        at(embedded, "counter-fast.localhost", NAMES.fastSqlite),
        at(onRedis, "counter-fast.localhost", NAMES.fastRedis),
        at(embedded, "counter.localhost", NAMES.smSqlite),
        at(onRedis, "counter.localhost", NAMES.smRedis),
        at(embedded, "hello.localhost", NAMES.smHello),
        at(embedded, "hello-fast.localhost", NAMES.fastHello),
      ],
      settings,
    );
    const side = new Map(results.map((r) => [r.name, r]));
    for (const r of results) showWrk(r.name, r.result);
    if (results.some((r) => r.name !== NAMES.miniflare && r.result.errors > 0)) {
      for (const gw of gateways) await explainErrors(gw);
    }
    const ratio = (a: string, b: string) => side.get(a)!.ratios.get(b)!;
    showRatio("fast-world counter, embedded / miniflare", ratio(NAMES.fastSqlite, NAMES.miniflare), 5, 5);
    showRatio("fast-world counter, Redis / miniflare", ratio(NAMES.fastRedis, NAMES.miniflare), 5, 5);
    showRatio("StarlingMonkey counter, embedded / hello", ratio(NAMES.smSqlite, NAMES.smHello), 0.8, 0.8);
    showRatio("StarlingMonkey counter, Redis / hello", ratio(NAMES.smRedis, NAMES.smHello), 0.8, 0.8);
    // What the key-value calls cost the fast world: the same request path without them.
    showRatio("fast-world counter, embedded / fast-world hello", ratio(NAMES.fastSqlite, NAMES.fastHello));
    showRatio("fast-world counter, Redis / fast-world hello", ratio(NAMES.fastRedis, NAMES.fastHello));
    showRatio("StarlingMonkey counter, embedded / miniflare", ratio(NAMES.smSqlite, NAMES.miniflare));
    showRatio("StarlingMonkey counter, Redis / miniflare", ratio(NAMES.smRedis, NAMES.miniflare));
    const goal = 5 * MINIFLARE_GET_PUT_RPS;
    process.stdout.write(
      `fast-world counter: ${Math.round(side.get(NAMES.fastSqlite)!.result.rps)} (embedded), ${Math.round(side.get(NAMES.fastRedis)!.result.rps)} (Redis) req/s, against ${goal} (5x miniflare's ${MINIFLARE_GET_PUT_RPS} in DESIGN.md)\n`,
    );
  });

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
  for (const gw of gateways) await gw.dispose();
  await redis.destroy();
}
