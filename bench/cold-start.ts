// Cold starts: the first request to an app with no live instance, to an unloaded app, to a newly
// pushed app, and push → live for a 14 MB component.
//
// 0. On a gateway that drops idle instances after 1 s and unloads idle apps after 5 s,
//    `--idle-apps` apps of each kind (the fast world, and the WAT fixture hello-p020, a small
//    non-JS component) are pushed, then in `--idle-rounds` rounds: a few warm requests to each,
//    2 s idle (instances dropped, code still loaded), the first request to each, then 6 s idle
//    (apps unloaded), the first request to each. Each first request is shown as the time it added
//    over the same app's warm median in that round. A machine left idle answers its first request
//    late whatever the gateway holds (caches, CPU frequency, threads asleep), so a control gateway
//    with the default idle settings gets the same apps, requests and waits, its requests taken in
//    turn with the first one's: what a missing instance or unloaded code adds is the difference.
// 1. `--apps` distinct copies of examples/hello-fast (a custom section appended, so each has its own
//    digest and is transpiled at deploy) are pushed one after another with the CLI. For each: the
//    push (the whole CLI round trip) and the first request after the push returned.
// 2. `--sm-runs` distinct copies of examples/hello (StarlingMonkey, ~14 MB) pushed the same way:
//    push → live is the CLI round trip; the first request after it is shown too.
//
// Usage: npm run bench:cold-start [-- --apps 30 --sm-runs 5 --idle-apps 5 --idle-rounds 4]

import { randomBytes } from "node:crypto";
import { readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { buildGuest } from "../scripts/guests.ts";
import { type GatewayProcess, get, push, startGateway, tempDir } from "../test/harness/gateway.ts";
import { BENCH_SECTION, formatBytes, percentile, timed, withCustomSection, within } from "./common.ts";

/** DESIGN.md targets. */
const FIRST_REQUEST_FLOOR_MS = 20;
const FIRST_REQUEST_GOAL_MS = 5;
/** The first request to a loaded app with no live instance, small component: time added. */
const NO_INSTANCE_ADDED_MS = 1;
/** The idle gateway's settings, and the waits that outlast them (sweeps run every 250 ms). */
const INSTANCE_IDLE_S = 1;
const UNLOAD_IDLE_S = 5;
const NO_INSTANCE_WAIT_MS = 2_000;
const UNLOADED_WAIT_MS = 6_500;
const PUSH_LIVE_FLOOR_MS = 3000;
const PUSH_LIVE_GOAL_MS = 1500;
const PUSH_TIMEOUT_MS = 60_000;
const REQUEST_TIMEOUT_MS = 30_000;

const { values } = parseArgs({
  options: {
    apps: { type: "string", default: "30" },
    "sm-runs": { type: "string", default: "5" },
    "idle-apps": { type: "string", default: "5" },
    "idle-rounds": { type: "string", default: "4" },
  },
});
const apps = Number(values.apps);
const smRuns = Number(values["sm-runs"]);
const idleApps = Number(values["idle-apps"]);
const idleRounds = Number(values["idle-rounds"]);
for (const [flag, value] of [
  ["apps", apps],
  ["sm-runs", smRuns],
  ["idle-apps", idleApps],
  ["idle-rounds", idleRounds],
] as const) {
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${flag} must be a non-negative integer`);
}

/** Requests after the first, whose median shows what a warm request to the same app costs. */
const WARM_REQUESTS = 5;

interface Sample {
  pushMs: number;
  firstMs: number;
  warmMs: number;
}

/** Writes `count` copies of `wasm` that differ only in a custom section; returns their paths. */
function distinctCopies(wasm: string, count: number, dir: string, label: string): string[] {
  const bytes = readFileSync(wasm);
  // A nonce too, so a copy never matches an artifact some other run left anywhere.
  const nonce = randomBytes(8).toString("hex");
  return Array.from({ length: count }, (_, i) => {
    const file = join(dir, `${label}-${i}.wasm`);
    writeFileSync(file, withCustomSection(bytes, BENCH_SECTION, `${label}-${i}-${nonce}`));
    return file;
  });
}

/** Pushes `file` as a new app, then times its first request and a few after it. */
async function coldStart(
  gw: GatewayProcess,
  file: string,
  app: string,
  expect: (text: string) => boolean,
): Promise<Sample> {
  const host = `${app}.localhost`;
  const pushed = await timed(() => within(PUSH_TIMEOUT_MS, push(gw, file, app, ["--host", host]), "push"));
  const first = await timed(() => within(REQUEST_TIMEOUT_MS, get(gw, host, "/"), "first request"));
  if (first.value.status !== 200 || !expect(first.value.text)) {
    throw new Error(`${app}: the first request answered ${first.value.status}: ${first.value.text}`);
  }
  const warm: number[] = [];
  for (let i = 0; i < WARM_REQUESTS; i++) {
    warm.push((await timed(() => within(REQUEST_TIMEOUT_MS, get(gw, host, "/"), "warm request"))).ms);
  }
  return { pushMs: pushed.ms, firstMs: first.ms, warmMs: percentile(warm, 50) };
}

/** Cold starts of `files`, one app each; a failed push or first request is kept as a failure. */
async function coldStarts(
  gw: GatewayProcess,
  files: string[],
  label: string,
  expect: (text: string) => boolean,
): Promise<{ samples: Sample[]; failures: string[] }> {
  const samples: Sample[] = [];
  const failures: string[] = [];
  for (const [i, file] of files.entries()) {
    try {
      samples.push(await coldStart(gw, file, `${label}-${i}`, expect));
    } catch (err) {
      failures.push((err as Error).message.trim());
    }
    if ((i + 1) % 10 === 0 || i + 1 === files.length) {
      process.stderr.write(`${label}: ${i + 1}/${files.length} apps pushed and requested\n`);
    }
  }
  return { samples, failures };
}

/** What the first request after each idle wait added over the same app's warm median. */
interface IdleSamples {
  warm: number[];
  noInstance: number[];
  unloaded: number[];
  /** The same on the control gateway, whose instances and code stay: the idle machine alone. */
  controlAfterShort: number[];
  controlAfterLong: number[];
  /** Each first request's added time less the control's for the same app and wait. */
  noInstanceOverControl: number[];
  unloadedOverControl: number[];
  failures: string[];
}

async function timedGet(
  gw: GatewayProcess,
  host: string,
  expect: (text: string) => boolean,
): Promise<number> {
  const res = await timed(() => within(REQUEST_TIMEOUT_MS, get(gw, host, "/"), "request"));
  if (res.value.status !== 200 || !expect(res.value.text)) {
    throw new Error(`${host} answered ${res.value.status}: ${res.value.text.slice(0, 200)}`);
  }
  return res.ms;
}

/** The same app's warm median on `gw`, after `WARM_REQUESTS` requests. */
async function warmMedian(
  gw: GatewayProcess,
  host: string,
  expect: (text: string) => boolean,
): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < WARM_REQUESTS; i++) times.push(await timedGet(gw, host, expect));
  return percentile(times, 50);
}

/**
 * Rounds of: warm requests, an idle wait that drops instances, a first request, a wait that
 * unloads, a first request; the same on `control`, each first request next to the idle one's.
 */
async function idleStarts(
  gw: GatewayProcess,
  control: GatewayProcess,
  hosts: string[],
  expect: (text: string) => boolean,
): Promise<IdleSamples> {
  const out: IdleSamples = {
    warm: [],
    noInstance: [],
    unloaded: [],
    controlAfterShort: [],
    controlAfterLong: [],
    noInstanceOverControl: [],
    unloadedOverControl: [],
    failures: [],
  };
  /** The first request to each host on both gateways, the idle one first in every other turn. */
  const firsts = async (
    round: number,
    warm: Map<string, [number, number]>,
    into: { added: number[]; control: number[]; over: number[] },
  ) => {
    for (const [i, host] of hosts.entries()) {
      const [warmIdle, warmControl] = warm.get(host)!;
      const onIdle = async () => (await timedGet(gw, host, expect)) - warmIdle;
      const onControl = async () => (await timedGet(control, host, expect)) - warmControl;
      let added: number;
      let controlled: number;
      if ((round + i) % 2 === 0) {
        added = await onIdle();
        controlled = await onControl();
      } else {
        controlled = await onControl();
        added = await onIdle();
      }
      into.added.push(added);
      into.control.push(controlled);
      into.over.push(added - controlled);
    }
  };
  for (let round = 0; round < idleRounds; round++) {
    const warm = new Map<string, [number, number]>();
    try {
      for (const host of hosts) {
        const pair: [number, number] = [
          await warmMedian(gw, host, expect),
          await warmMedian(control, host, expect),
        ];
        warm.set(host, pair);
        out.warm.push(pair[0]);
      }
      await sleep(NO_INSTANCE_WAIT_MS);
      await firsts(round, warm, {
        added: out.noInstance,
        control: out.controlAfterShort,
        over: out.noInstanceOverControl,
      });
      await sleep(UNLOADED_WAIT_MS);
      await firsts(round, warm, {
        added: out.unloaded,
        control: out.controlAfterLong,
        over: out.unloadedOverControl,
      });
    } catch (err) {
      out.failures.push((err as Error).message.trim());
    }
  }
  return out;
}

function show(title: string, failures: string[], rows: [string, number[], number][]): void {
  process.stdout.write(`${title}\n`);
  for (const [label, values, digits] of rows) {
    const p = (q: number) => percentile(values, q).toFixed(digits).padStart(8);
    process.stdout.write(`  ${label.padEnd(32)} p50 ${p(50)} ms   p99 ${p(99)} ms\n`);
  }
  if (failures.length > 0) process.stdout.write(`  FAILED ${failures.length}:\n`);
  for (const failure of failures.slice(0, 5)) process.stdout.write(`    ${failure}\n`);
}

const fast = await buildGuest("example", "hello-fast");
const wat = await buildGuest("fixture", "hello-p020");
const hello = smRuns > 0 ? await buildGuest("example", "hello") : undefined;
const scratch = tempDir("wasmgate-bench-cold-");
const isFast = (text: string) => text.startsWith("Hello from wasmgate (fast world)!");
const isHello = (text: string) => text.startsWith("Hello from wasmgate!");
const isWat = (text: string) => text === "hello from wat";

if (idleApps > 0 && idleRounds > 0) {
  const idle = await startGateway({
    args: [
      "--log-level",
      "warn",
      "--instance-idle-s",
      String(INSTANCE_IDLE_S),
      "--unload-idle-s",
      String(UNLOAD_IDLE_S),
    ],
  });
  // The defaults keep an instance and the code for minutes: its first requests show the idle
  // machine alone.
  const control = await startGateway({ args: ["--log-level", "warn"] });
  try {
    for (const [label, file, expect] of [
      ["fast-world hello", fast, isFast],
      ["hello-p020 (WAT, wasi:http)", wat, isWat],
    ] as const) {
      const tag = label.split(" ")[0]!.replace(/[^a-z0-9]/g, "");
      const files = distinctCopies(file, idleApps, scratch, `idle-${tag}`);
      const hosts: string[] = [];
      for (const [i, copy] of files.entries()) {
        const app = `idle-${tag}-${i}`;
        for (const gw of [idle, control]) {
          await within(PUSH_TIMEOUT_MS, push(gw, copy, app, ["--host", `${app}.localhost`]), "push");
        }
        hosts.push(`${app}.localhost`);
      }
      const s = await idleStarts(idle, control, hosts, expect);
      show(
        `${label} (${formatSize(file)}), ${idleApps} apps x ${idleRounds} rounds; instances dropped after ${INSTANCE_IDLE_S} s, apps unloaded after ${UNLOAD_IDLE_S} s; control gateway with the defaults`,
        s.failures,
        [
          [`warm request (median of ${WARM_REQUESTS})`, s.warm, 2],
          ["added: no live instance", s.noInstance, 2],
          ["  control, same wait", s.controlAfterShort, 2],
          ["  over the control", s.noInstanceOverControl, 2],
          ["added: app unloaded", s.unloaded, 2],
          ["  control, same wait", s.controlAfterLong, 2],
          ["  over the control", s.unloadedOverControl, 2],
        ],
      );
      const added = percentile(s.noInstanceOverControl, 50);
      process.stdout.write(
        `  no live instance adds p50 ${added.toFixed(2)} ms over the control: ${added < NO_INSTANCE_ADDED_MS ? "meets" : "MISSES"} the goal (< ${NO_INSTANCE_ADDED_MS} ms)\n`,
      );
      const reload = percentile(s.unloadedOverControl, 50);
      process.stdout.write(
        `  reloading an unloaded app adds p50 ${reload.toFixed(2)} ms over the control (cold-start bound: < ${FIRST_REQUEST_GOAL_MS} ms)\n`,
      );
    }
  } finally {
    await Promise.all([idle.dispose(), control.dispose()]);
  }
}

const gw = await startGateway({ args: ["--log-level", "warn"] });
try {
  // Start the build worker and the guest workers, so the samples measure a running gateway.
  await coldStart(gw, fast, "warmup", isFast);
  const warm = `warm request (median of ${WARM_REQUESTS})`;

  if (apps > 0) {
    const files = distinctCopies(fast, apps, scratch, "fast");
    const { samples, failures } = await coldStarts(gw, files, "fast", isFast);
    show(`fast-world hello (${formatSize(fast)}), ${apps} distinct apps pushed with the CLI`, failures, [
      ["push (CLI round trip)", samples.map((s) => s.pushMs), 1],
      ["first request after push", samples.map((s) => s.firstMs), 2],
      [warm, samples.map((s) => s.warmMs), 2],
    ]);
    const p50 = percentile(
      samples.map((s) => s.firstMs),
      50,
    );
    process.stdout.write(
      `  first request p50 ${p50.toFixed(2)} ms: ${verdict(p50, FIRST_REQUEST_FLOOR_MS, FIRST_REQUEST_GOAL_MS)}\n`,
    );
  }

  if (hello !== undefined) {
    const files = distinctCopies(hello, smRuns, scratch, "hello");
    const { samples, failures } = await coldStarts(gw, files, "hello", isHello);
    show(`StarlingMonkey hello (${formatSize(hello)}), ${smRuns} distinct apps`, failures, [
      ["push -> live (CLI round trip)", samples.map((s) => s.pushMs), 0],
      ["first request after push", samples.map((s) => s.firstMs), 1],
      ["push + first response", samples.map((s) => s.pushMs + s.firstMs), 0],
      [warm, samples.map((s) => s.warmMs), 2],
    ]);
    const p50 = percentile(
      samples.map((s) => s.pushMs),
      50,
    );
    process.stdout.write(
      `  push -> live p50 ${p50.toFixed(0)} ms: ${verdict(p50, PUSH_LIVE_FLOOR_MS, PUSH_LIVE_GOAL_MS)}\n`,
    );
  }
} finally {
  await gw.dispose();
  rmSync(scratch, { recursive: true, force: true });
}

function verdict(value: number, floor: number, goal: number): string {
  const targets = `(floor < ${floor} ms, goal < ${goal} ms)`;
  return value < goal
    ? `meets the goal ${targets}`
    : value < floor
      ? `meets the floor ${targets}`
      : `MISSES the floor ${targets}`;
}

function formatSize(file: string): string {
  return formatBytes(statSync(file).size);
}
