// Where a fast-world request's CPU goes, thread by thread: the gateway's main thread, its guest
// worker, and V8's helper threads (garbage collection, compilation), in µs per request, read from
// /proc after a pinned wrk run. Each gateway start is measured apart, because V8's helper work
// differs from one start to the next; the medians are over the starts. `--example` chooses another
// example (`counter-fast`: two key-value calls per request, on the embedded store, or on a
// redis-server the benchmark starts, pinned with the gateway, with `--redis`); `--listen-in-workers
// on` measures the gateway with its workers listening.
// Usage: npm run bench:cpu-split [-- --starts 6 --seconds 5 --log-level info --example hello-fast --redis --listen-in-workers on]

import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { parseArgs, promisify } from "node:util";
import { buildGuest } from "../scripts/guests.ts";
import { push, startGateway } from "../test/harness/gateway.ts";
import { startRedisServer } from "../test/harness/redis-server.ts";
import { assertPinned, SERVER_CPUS } from "./pin.ts";
import { median, wrk } from "./wrk.ts";

const HOST = "app.localhost";
const { values } = parseArgs({
  options: {
    starts: { type: "string", default: "6" },
    seconds: { type: "string", default: "5" },
    connections: { type: "string", default: "16" },
    "log-level": { type: "string", default: "info" },
    example: { type: "string", default: "hello-fast" },
    redis: { type: "boolean", default: false },
    "listen-in-workers": { type: "string", default: "off" },
  },
});
const seconds = Number(values.seconds);
const run = promisify(execFile);
const connections = Number(values.connections);

/** CPU ticks (10 ms) of each thread group of `pid`: main, the guest workers, V8's helpers. */
function ticks(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${task}/stat`, "utf8");
    } catch {
      continue; // the thread ended meanwhile
    }
    const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const group = Number(task) === pid ? "main" : name.startsWith("V8") ? "v8 helpers" : name;
    out.set(group, (out.get(group) ?? 0) + Number(fields[11]) + Number(fields[12]));
  }
  return out;
}

/** `gateway`'s ticks and, when the benchmark runs one, redis-server's (all its threads as one). */
function withRedis(gateway: Map<string, number>): Map<string, number> {
  if (redis?.pid === undefined) return gateway;
  let sum = 0;
  for (const t of ticks(redis.pid).values()) sum += t;
  return gateway.set("redis-server", sum);
}

/** One figure of a row: req/s whole, µs to a tenth. */
const show = (group: string, value: number) =>
  `${group} ${group === "req/s" ? Math.round(value) : value.toFixed(1)}`;

const guest = await buildGuest("example", values.example!);
const redis = values.redis ? await startRedisServer() : undefined;
if (redis) await run("taskset", ["-a", "-p", "-c", SERVER_CPUS, String(redis.pid)]);
const rows: Map<string, number>[] = [];
for (let i = 0; i < Number(values.starts); i++) {
  const gw = await startGateway({
    args: [
      "--workers",
      "1",
      "--log-level",
      values["log-level"]!,
      "--listen-in-workers",
      values["listen-in-workers"]!,
    ],
    cpus: SERVER_CPUS,
    requestLogs: "drop",
    ...(redis ? { env: { REDIS_URL: redis.url } } : {}),
  });
  try {
    await push(gw, guest, values.example!, ["--host", HOST]);
    assertPinned(gw.process.pid!, SERVER_CPUS, "the gateway");
    const url = `${gw.dataUrl}/`;
    await wrk(url, { connections, seconds: 3, headers: { host: HOST } });
    const before = withRedis(ticks(gw.process.pid!));
    const run = await wrk(url, { connections, seconds, headers: { host: HOST } });
    const after = withRedis(ticks(gw.process.pid!));
    const row = new Map<string, number>([["req/s", run.rps]]);
    let total = 0;
    for (const [group, t] of after) {
      const us = ((t - (before.get(group) ?? 0)) * 10_000) / run.requests;
      row.set(group, us);
      total += us;
    }
    row.set("total", total);
    rows.push(row);
    for (const [group, us] of row) if (group !== "req/s" && us < 0.1) row.delete(group);
    process.stdout.write(`start ${i + 1}: ${[...row].map(([k, v]) => show(k, v)).join(" | ")}\n`);
  } finally {
    await gw.dispose();
  }
}
const groups = [...new Set(rows.flatMap((r) => [...r.keys()]))].sort((a, b) =>
  a === "total" ? 1 : b === "total" ? -1 : 0,
);
await redis?.destroy();
process.stdout.write(
  `median over ${rows.length} starts (${values.example}${redis ? " on Redis" : ""}, µs per request, ${values["log-level"]} logs): ${groups
    .map((g) => show(g, median(rows.map((r) => r.get(g) ?? 0))))
    .join(" | ")}\n`,
);
