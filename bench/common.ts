// What the benchmarks share: the bare Hono baseline, a gateway with one app pushed, components made
// distinct by a custom section, percentiles, result lines and time limits.

import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { rmSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import {
  type GatewayProcess,
  push,
  ROOT,
  startGateway,
  tempDir,
  WARN_LEVEL,
} from "../test/harness/gateway.ts";
import { metric, scrape } from "../test/harness/ops.ts";
import { signalGroup, spawnOwned } from "../test/harness/process.ts";
import { ensurePeers } from "./peers.ts";
import { assertPinned, pinnedCommand, SERVER_CPUS, WRK_CPUS } from "./pin.ts";
import { median, medianResult, type WrkResult, wrk } from "./wrk.ts";

/** The custom section name the benchmarks use to give copies of one component distinct digests. */
export const BENCH_SECTION = "wasmgate-bench";

/** The wrk flags every throughput benchmark takes, for `parseArgs`. */
export const WRK_FLAGS = {
  seconds: { type: "string", default: "10" },
  runs: { type: "string", default: "3" },
  connections: { type: "string", default: "32" },
} as const;

export interface WrkSettings {
  seconds: number;
  runs: number;
  connections: number;
}

export function wrkSettings(values: { seconds: string; runs: string; connections: string }): WrkSettings {
  const settings = {
    seconds: Number(values.seconds),
    runs: Number(values.runs),
    connections: Number(values.connections),
  };
  for (const [flag, value] of Object.entries(settings)) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`--${flag} must be a positive integer`);
  }
  return settings;
}

/**
 * A short wrk run to warm the server (JIT, instance pools), then the median of `runs` runs of
 * `wrk -t1 -c<connections> -d<seconds>s`.
 */
export async function measure(
  url: string,
  settings: WrkSettings,
  headers: Record<string, string> = {},
): Promise<WrkResult> {
  const { connections, seconds, runs } = settings;
  await wrk(url, { connections, seconds: Math.min(3, seconds), headers });
  const results: WrkResult[] = [];
  for (let i = 0; i < runs; i++) results.push(await wrk(url, { connections, seconds, headers }));
  return medianResult(results);
}

/**
 * A server to load: its URL, the headers each request carries (the Host of an app), and its
 * process, which must be pinned to SERVER_CPUS (./pin.ts) like every other server.
 */
export interface Target {
  url: string;
  headers?: Record<string, string>;
  pid: number | undefined;
}

export interface PairResult {
  a: WrkResult;
  b: WrkResult;
  /** The median over rounds of b's req/s divided by a's in the same round. */
  ratio: number;
}

/**
 * Measures two servers in turn: after a warm-up of each, `runs` rounds of one wrk run against
 * each, in alternating order (a b, b a, ...). Both are up the whole time and only one is loaded at
 * a time. The machine's speed drifts over minutes on shared hosts; comparing runs made seconds
 * apart, and taking the median of those ratios, keeps the drift out of the ratio.
 */
export async function measurePair(a: Target, b: Target, settings: WrkSettings): Promise<PairResult> {
  const [ra, rb] = await measureRounds(
    [
      { ...a, name: "the baseline" },
      { ...b, name: "the measured server" },
    ],
    settings,
  );
  return { a: ra!.result, b: rb!.result, ratio: rb!.ratios.get("the baseline")! };
}

/** A server of `measureRounds`, named for its result line and its ratios. */
export interface NamedTarget extends Target {
  name: string;
}

export interface RoundsResult {
  name: string;
  /** Median req/s and latencies over the rounds, every error of them. */
  result: WrkResult;
  /** By the name of every other target: the median over rounds of this req/s divided by its. */
  ratios: Map<string, number>;
}

/**
 * `measurePair` for any number of servers: each checked to be pinned to SERVER_CPUS, warmed up,
 * then `runs` rounds of one wrk run of each, in the given order and the reverse order in turn, so
 * that every pair of servers is compared within each round.
 */
export async function measureRounds(
  targets: readonly NamedTarget[],
  settings: WrkSettings,
): Promise<RoundsResult[]> {
  const { connections, seconds, runs } = settings;
  const once = (t: Target, s: number) => wrk(t.url, { connections, seconds: s, headers: t.headers });
  for (const t of targets) {
    if (t.pid === undefined) throw new Error(`${t.name} has no process to pin`);
    const threads = assertPinned(t.pid, SERVER_CPUS, t.name);
    process.stderr.write(`${t.name}: ${threads} threads, all on CPUs ${SERVER_CPUS}\n`);
  }
  for (const t of targets) await once(t, Math.min(3, seconds));
  const rounds: WrkResult[][] = targets.map(() => []);
  for (let i = 0; i < runs; i++) {
    const order = targets.map((_, j) => j);
    if (i % 2 === 1) order.reverse();
    for (const j of order) rounds[j]!.push(await once(targets[j]!, seconds));
  }
  return targets.map((t, j) => ({
    name: t.name,
    result: medianResult(rounds[j]!),
    ratios: new Map(
      targets.flatMap((other, k) =>
        k === j ? [] : [[other.name, median(rounds[j]!.map((r, i) => r.rps / rounds[k]![i]!.rps))] as const],
      ),
    ),
  }));
}

/** examples/hello (StarlingMonkey, wasi:http) as the hello benchmarks push and name it. */
export const STARLINGMONKEY_HELLO = {
  app: "hello",
  host: "hello.localhost",
  name: "wasmgate hello (StarlingMonkey)",
} as const;

export interface GatewayComparison {
  /** The other server, already listening, its process, and the name its result line gets. */
  baseline: { name: string; url: string; pid: number | undefined };
  /** The component pushed to a fresh gateway as `app` on `host`, and its result line's name. */
  guest: string;
  app: string;
  host: string;
  name: string;
  /** The ratio line: gateway / baseline, judged against a floor and a goal when it has them. */
  ratio: { label: string; floor?: number; goal?: number };
  /** Called once the app is pushed, before any load: throw if it does not answer as it should. */
  check?: (gw: GatewayProcess) => Promise<void>;
  /** The gateway's `--log-level`; its default when undefined. */
  logLevel?: string | undefined;
}

/**
 * Pushes a guest to a fresh gateway, measures the baseline and the gateway in turn
 * (`measurePair`), prints both result lines and the ratio, and stops the gateway.
 */
export async function compareWithGateway(c: GatewayComparison, settings: WrkSettings): Promise<PairResult> {
  const gw = await gatewayWith(c.guest, c.app, c.host, { logLevel: c.logLevel });
  try {
    await c.check?.(gw);
    const result = await measurePair(
      { url: c.baseline.url, pid: c.baseline.pid },
      { url: gw.dataUrl, headers: { host: c.host }, pid: gw.process.pid },
      settings,
    );
    showWrk(c.baseline.name, result.a);
    showWrk(c.name, result.b);
    if (result.b.errors > 0) await explainErrors(gw);
    showRatio(c.ratio.label, result.ratio, c.ratio.floor, c.ratio.goal);
    return result;
  } finally {
    await gw.dispose();
  }
}

/** The line saying how a comparison is measured. */
export function describePairs(settings: WrkSettings): void {
  process.stderr.write(
    `wrk -t1 -c${settings.connections} -d${settings.seconds}s on CPUs ${WRK_CPUS}, every server on CPUs ${SERVER_CPUS} (taskset), ${settings.runs} rounds, one run of each in turn\n`,
  );
}

/** Runs `fn` against a bare Hono hello on a free loopback port, then stops it. */
export function bareHono<T>(fn: (url: string, pid: number | undefined) => Promise<T>): Promise<T> {
  return benchServer("bare-hono.ts", fn);
}

/** A peer installs itself on first use (bench/peers.ts) and miniflare starts workerd. */
const PEER_START_TIMEOUT_MS = 180_000;

/**
 * Runs `fn` against a server script of this folder (it prints `{"port": n}` once it listens),
 * then stops it.
 */
export async function benchServer<T>(
  script: string,
  fn: (url: string, pid: number | undefined) => Promise<T>,
  timeoutMs = 15_000,
): Promise<T> {
  const server = fileURLToPath(new URL(`./${script}`, import.meta.url));
  const child = spawnOwned(...pinnedCommand(SERVER_CPUS, process.execPath, [server]), {
    stdio: ["ignore", "pipe", "inherit"],
  });
  try {
    const [line] = (await within(
      timeoutMs,
      once(createInterface({ input: child.stdout! }), "line"),
      `${script} start`,
    )) as [string];
    return await fn(`http://127.0.0.1:${JSON.parse(line).port}/`, child.pid);
  } finally {
    await stopChild(child);
  }
}

/** miniflare's KV get + put worker (bench/miniflare-kv.ts), pinned like every server. */
export function miniflareKv<T>(fn: (url: string, pid: number | undefined) => Promise<T>): Promise<T> {
  return benchServer("miniflare-kv.ts", fn, PEER_START_TIMEOUT_MS);
}

/**
 * workerd's JS hello (workerd-hello.capnp, workerd-hello.js) on a free loopback port, pinned like
 * every server, installed on first use (bench/peers.ts).
 */
export async function workerdHello<T>(fn: (url: string, pid: number | undefined) => Promise<T>): Promise<T> {
  const { workerd } = await ensurePeers();
  const port = await freePort();
  const config = fileURLToPath(new URL("./workerd-hello.capnp", import.meta.url));
  const child = spawnOwned(
    ...pinnedCommand(SERVER_CPUS, workerd, ["serve", config, "--socket-addr", `http=127.0.0.1:${port}`]),
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  try {
    const url = `http://127.0.0.1:${port}/`;
    await Promise.race([
      waitForHttp(url, PEER_START_TIMEOUT_MS),
      new Promise((_, reject) =>
        child.once("exit", (code) => reject(new Error(`workerd exited with ${code} before answering`))),
      ),
    ]);
    return await fn(url, child.pid);
  } finally {
    await stopChild(child);
  }
}

/** `--log-level` of the ratio benchmarks: the gateway's own default unless one is chosen. */
export const LOG_LEVEL_FLAG = { "log-level": { type: "string" } } as const;

export interface GatewayOptions {
  /** The gateway's `--log-level`; its default (`info`, a log line per request) when undefined. */
  logLevel?: string | undefined;
  env?: Record<string, string>;
}

/** The words a result line's name gets when the gateway logs at another level than its default. */
export function logLevelLabel(logLevel: string | undefined): string {
  return logLevel === undefined ? "" : ` [--log-level ${logLevel}]`;
}

/**
 * A gateway on ephemeral ports at its default log level (or `options.logLevel`), pinned to
 * SERVER_CPUS, with `file` pushed with the CLI as `app` on `host`. Its request log lines are read
 * and dropped, as a log shipper would take them. Dispose it when done.
 */
export async function gatewayWith(
  file: string,
  app: string,
  host: string,
  options: GatewayOptions = {},
): Promise<GatewayProcess> {
  const gw = await startBenchGateway(options);
  try {
    await push(gw, file, app, ["--host", host]);
    return gw;
  } catch (err) {
    await gw.dispose();
    throw err;
  }
}

/** A gateway as `gatewayWith` starts one, with no app yet. */
export function startBenchGateway(options: GatewayOptions = {}): Promise<GatewayProcess> {
  return startGateway({
    args: options.logLevel === undefined ? [] : ["--log-level", options.logLevel],
    cpus: SERVER_CPUS,
    requestLogs: "drop",
    ...(options.env === undefined ? {} : { env: options.env }),
  });
}

/** jco transpiles the 14 MB component before it listens. */
const JCO_START_TIMEOUT_MS = 120_000;

/**
 * `jco serve` of `wasm` on a free loopback port, pinned like every server, transpiling into a
 * directory of ours so nothing is left; `args` go before the component (`--isolate-requests
 * instance`).
 */
export async function jcoServe<T>(
  wasm: string,
  fn: (url: string, pid: number | undefined) => Promise<T>,
  args: readonly string[] = [],
): Promise<T> {
  const port = await freePort();
  const outDir = tempDir("wasmgate-bench-jco-");
  // jco serve runs the server in a child process of its own: stopping the group stops both.
  const child = spawnOwned(
    ...pinnedCommand(SERVER_CPUS, join(ROOT, "node_modules", ".bin", "jco"), [
      "serve",
      "--port",
      String(port),
      "--host",
      "127.0.0.1",
      "--jco-dir",
      outDir,
      ...args,
      wasm,
    ]),
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  try {
    const url = `http://127.0.0.1:${port}/`;
    await Promise.race([
      waitForHttp(url, JCO_START_TIMEOUT_MS),
      new Promise((_, reject) =>
        child.once("exit", (code) => reject(new Error(`jco serve exited with ${code} before answering`))),
      ),
    ]);
    return await fn(url, child.pid);
  } finally {
    await stopChild(child);
    rmSync(outDir, { recursive: true, force: true });
  }
}

/**
 * SIGTERM to the process group of a child started with spawnOwned (so whatever it started stops
 * too), SIGKILL after 5 s, then wait for it.
 */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = once(child, "exit");
  signalGroup(child, "SIGTERM");
  const stopped = await Promise.race([exited.then(() => true), sleep(5_000).then(() => false)]);
  if (!stopped) {
    signalGroup(child, "SIGKILL");
    await exited;
  }
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  server.close();
  if (address === null || typeof address === "string") throw new Error("no port from the kernel");
  return address.port;
}

/** Polls `url` until it answers 200; throws after `timeoutMs`. */
export async function waitForHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.ok) return;
      last = new Error(`status ${res.status}`);
    } catch (err) {
      last = err;
    }
    await sleep(100);
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`, { cause: last });
}

/** Rejects if `promise` has not settled within `ms`; `what` names it in the error. */
export async function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Milliseconds `fn` took, with its result. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await fn();
  return { ms: performance.now() - started, value };
}

/** Unsigned LEB128, as the wasm binary format encodes sizes. */
export function uleb128(value: number): Uint8Array {
  const out: number[] = [];
  let rest = value;
  do {
    let byte = rest & 0x7f;
    rest = Math.floor(rest / 128);
    if (rest !== 0) byte |= 0x80;
    out.push(byte);
  } while (rest !== 0);
  return Uint8Array.from(out);
}

/**
 * `component` with a custom section appended: id 0, the section size, the name (length-prefixed)
 * and the payload. Custom sections may appear anywhere in a component, and tools ignore names they
 * do not know, so this changes the digest and nothing else.
 */
export function withCustomSection(component: Uint8Array, name: string, payload: string): Uint8Array {
  const nameBytes = Buffer.from(name, "utf8");
  const payloadBytes = Buffer.from(payload, "utf8");
  const nameLength = uleb128(nameBytes.length);
  const size = uleb128(nameLength.length + nameBytes.length + payloadBytes.length);
  return Buffer.concat([component, Uint8Array.of(0), size, nameLength, nameBytes, payloadBytes]);
}

/** Nearest-rank percentile (p in 0..100); NaN for an empty list. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

export function formatBytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** One result line: name, req/s, p50, p99 and errors (non-2xx answers and socket errors). */
export function showWrk(name: string, r: WrkResult): void {
  process.stdout.write(
    `${name.padEnd(34)} ${r.rps.toFixed(0).padStart(8)} req/s   p50 ${r.p50Ms.toFixed(2)} ms   p99 ${r.p99Ms.toFixed(2)} ms   errors ${r.errors}\n`,
  );
  if (r.errors > 0) {
    process.stdout.write(`  warning: ${name} had ${r.errors} errors; its req/s counts failed answers too\n`);
  }
}

const SHOWN_WARNINGS = 5;

/**
 * The gateway's own account of failed answers: responses by status other than 2xx, the errors it
 * logged by code, CPU-limit kills of workers, and the first warnings it logged.
 */
export async function explainErrors(gw: GatewayProcess): Promise<void> {
  const samples = await scrape(gw);
  const statuses = new Map<string, number>();
  for (const s of samples) {
    if (s.name === "wasmgate_requests_total" && !s.labels.status?.startsWith("2")) {
      statuses.set(s.labels.status!, (statuses.get(s.labels.status!) ?? 0) + s.value);
    }
  }
  const codes = new Map<string, number>();
  for (const entry of gw.logs) {
    const code = (entry.err as { code?: string } | undefined)?.code ?? entry.code;
    if (typeof code === "string") codes.set(code, (codes.get(code) ?? 0) + 1);
  }
  const list = (m: Map<string, number>) => [...m].map(([k, n]) => `${k} x${n}`).join(", ") || "none";
  process.stdout.write(
    `  the gateway answered: ${list(statuses)}; logged codes: ${list(codes)}; CPU-limit kills: ${metric(samples, "wasmgate_cpu_limit_kills_total")}\n`,
  );
  // The watchdog's own words (which app, by how much it overran) say why a worker was stopped.
  const warnings = gw.logs.filter((entry) => entry.level === WARN_LEVEL);
  for (const entry of warnings.slice(0, SHOWN_WARNINGS)) {
    const { msg, time: _time, level: _level, ...rest } = entry;
    process.stdout.write(`  warning logged: ${String(msg)} ${JSON.stringify(rest)}\n`);
  }
  if (warnings.length > SHOWN_WARNINGS) {
    process.stdout.write(`  and ${warnings.length - SHOWN_WARNINGS} more warnings\n`);
  }
}

/** The ratio line, with the targets it is judged against when it has any. */
export function showRatio(label: string, ratio: number, floor?: number, goal?: number): void {
  if (floor === undefined || goal === undefined) {
    process.stdout.write(`ratio ${label}: ${ratio.toFixed(3)}x   (no target)\n`);
    return;
  }
  const verdict = ratio >= goal ? "meets the goal" : ratio >= floor ? "meets the floor" : "BELOW the floor";
  process.stdout.write(
    `ratio ${label}: ${ratio.toFixed(3)}x   (floor >= ${floor}x, goal >= ${goal}x: ${verdict})\n`,
  );
}
