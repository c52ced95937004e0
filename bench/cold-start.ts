// The first request to a newly pushed app, and push → live for a 14 MB component.
//
// 1. `--apps` distinct copies of examples/hello-fast (a custom section appended, so each has its own
//    digest and is transpiled at deploy) are pushed one after another with the CLI. For each: the
//    push (the whole CLI round trip) and the first request after the push returned.
// 2. `--sm-runs` distinct copies of examples/hello (StarlingMonkey, ~14 MB) pushed the same way:
//    push → live is the CLI round trip; the first request after it is shown too.
//
// Usage: npm run bench:cold-start [-- --apps 30 --sm-runs 5]

import { randomBytes } from "node:crypto";
import { readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { buildGuest } from "../scripts/guests.ts";
import { type GatewayProcess, get, push, startGateway, tempDir } from "../test/harness/gateway.ts";
import { BENCH_SECTION, formatBytes, percentile, timed, withCustomSection, within } from "./common.ts";

/** DESIGN.md targets. */
const FIRST_REQUEST_FLOOR_MS = 20;
const FIRST_REQUEST_GOAL_MS = 5;
const PUSH_LIVE_FLOOR_MS = 3000;
const PUSH_LIVE_GOAL_MS = 1500;
const PUSH_TIMEOUT_MS = 60_000;
const REQUEST_TIMEOUT_MS = 30_000;

const { values } = parseArgs({
  options: {
    apps: { type: "string", default: "30" },
    "sm-runs": { type: "string", default: "5" },
  },
});
const apps = Number(values.apps);
const smRuns = Number(values["sm-runs"]);
for (const [flag, value] of [
  ["apps", apps],
  ["sm-runs", smRuns],
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
const hello = smRuns > 0 ? await buildGuest("example", "hello") : undefined;
const scratch = tempDir("wasmgate-bench-cold-");
const gw = await startGateway({ args: ["--log-level", "warn"] });
try {
  const isFast = (text: string) => text.startsWith("Hello from wasmgate (fast world)!");
  const isHello = (text: string) => text.startsWith("Hello from wasmgate!");
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
