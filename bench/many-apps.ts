// Memory of one gateway holding many apps: `--apps` distinct tiny components (the WAT fixture
// hello-p020 with a custom section appended, so each has its own digest and is transpiled), each
// deployed through the admin API as its own app with its own hostname. Reports the gateway's RSS
// after start, after every deploy (idle), after one request to each app, and again after
// `--idle-wait` seconds (instances idle for a minute are dropped), plus the deploy rate. With
// `--unload-idle-s` (the gateway's flag: an app without a request that long is unloaded, code and
// all) the apps idle meanwhile are unloaded; the gateway's unload lines are counted in each phase,
// idle ones and those over the memory budget apart, and when apps were unloaded since their request
// a last pass requests each once more: what loading them again on demand costs a first request,
// and the RSS after it.
//
// The CLI spawns a process per push, so the deploys go to the admin API directly, a few at a time.
// Usage: npm run bench:many-apps [-- --apps 1000 --concurrency 4 --idle-wait 90]
//        npm run bench:many-apps -- --apps 10000 --unload-idle-s 60 --idle-wait 90 --deploy-budget-s 1500
//        (another gateway flag: --gateway-arg=--memory-budget-mb=8192, repeated for more)

import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { request } from "undici";
import { buildGuest } from "../scripts/guests.ts";
import { type GatewayProcess, get, memoryOf, startGateway } from "../test/harness/gateway.ts";
import { metric, scrape } from "../test/harness/ops.ts";
import { BENCH_SECTION, formatBytes, percentile, withCustomSection, within } from "./common.ts";

/** The targets: 1,000 idle apps < 1 GiB RSS (floor 2 GiB); 10,000 < 2 GiB, idle ones unloaded. */
const GIB = 1024 ** 3;
const goalFor = (apps: number) =>
  apps <= 1000 ? { goal: GIB, floor: 2 * GIB, of: "1,000" } : { goal: 2 * GIB, floor: 2 * GIB, of: "10,000" };
const CALL_TIMEOUT_MS = 60_000;
const PROGRESS_EVERY = 50;
const REQUEST_CONCURRENCY = 8;
const EXPECTED_BODY = "hello from wat";

const { values } = parseArgs({
  options: {
    apps: { type: "string", default: "1000" },
    concurrency: { type: "string", default: "4" },
    "idle-wait": { type: "string", default: "90" },
    /** Deploys (then each pass of requests) stop being started after this long, so a slow machine still finishes. */
    "deploy-budget-s": { type: "string", default: "360" },
    "request-budget-s": { type: "string", default: "120" },
    "unload-idle-s": { type: "string" },
    /** Any other gateway flag, passed on as given: `--gateway-arg=--memory-budget-mb=8192`. */
    "gateway-arg": { type: "string", multiple: true, default: [] },
  },
});
const appCount = Number(values.apps);
const concurrency = Number(values.concurrency);
const idleWaitS = Number(values["idle-wait"]);
if (!Number.isInteger(appCount) || appCount < 1) throw new Error("--apps must be a positive integer");
if (!Number.isInteger(concurrency) || concurrency < 1) {
  throw new Error("--concurrency must be a positive integer");
}
if (!Number.isFinite(idleWaitS) || idleWaitS < 0) throw new Error("--idle-wait must be seconds >= 0");
const seconds = (flag: string, value: string | undefined): number => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${flag} must be seconds > 0`);
  return n;
};
const DEPLOY_BUDGET_MS = seconds("deploy-budget-s", values["deploy-budget-s"]) * 1000;
const REQUEST_BUDGET_MS = seconds("request-budget-s", values["request-budget-s"]) * 1000;
const unloadIdleS =
  values["unload-idle-s"] === undefined ? undefined : seconds("unload-idle-s", values["unload-idle-s"]);
const target = goalFor(appCount);

/** Why the gateway unloaded an app, by its info line (runtime/host/pool.ts): it has no metric for it. */
const UNLOAD_REASONS = new Map([
  ["unloaded an app that had no request for the unload idle time", "idle"],
  ["unloaded an idle app to stay within the memory budget", "budget"],
]);

const appName = (i: number) => `app-${String(i).padStart(4, "0")}`;
const hostOf = (i: number) => `${appName(i)}.localhost`;

/** One admin API call; throws with the gateway's error body unless it answered 2xx. */
async function admin(
  gw: GatewayProcess,
  method: "PUT" | "POST",
  path: string,
  body: string | Uint8Array,
  contentType: string,
): Promise<void> {
  const res = await request(`${gw.adminUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${gw.token}`, "content-type": contentType },
    body,
    signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
  });
  const text = await res.body.text();
  if (res.statusCode >= 300) throw new Error(`${method} ${path} answered ${res.statusCode}: ${text}`);
}

async function deploy(gw: GatewayProcess, base: Uint8Array, nonce: string, i: number): Promise<void> {
  const app = appName(i);
  await admin(gw, "PUT", `/v1/apps/${app}`, JSON.stringify({ hostnames: [hostOf(i)] }), "application/json");
  const bytes = withCustomSection(base, BENCH_SECTION, `${app}-${nonce}`);
  await admin(gw, "POST", `/v1/apps/${app}/deployments`, bytes, "application/wasm");
}

/** Runs `fn` for 0..count-1, at most `limit` at a time, until `shouldStop` says so. */
async function forEachLimited(
  count: number,
  limit: number,
  fn: (i: number) => Promise<void>,
  shouldStop: () => boolean = () => false,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count && !shouldStop()) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, lane));
}

let unloadsCounted = 0;
/**
 * Prints the unloads the gateway logged since the last call (one line per worker an app leaves,
 * each time), idle and over the memory budget apart: either kind makes the next request load the
 * app again, and the budget can unload apps long before the idle time. Returns how many.
 */
function unloadsSince(gw: GatewayProcess, label: string): number {
  const lines = gw.logs.filter((l) => UNLOAD_REASONS.has(String(l.msg)));
  const fresh = lines.slice(unloadsCounted);
  unloadsCounted = lines.length;
  const idle = fresh.filter((l) => UNLOAD_REASONS.get(String(l.msg)) === "idle").length;
  process.stdout.write(
    `  unloads ${label}: ${fresh.length} (${idle} idle, ${fresh.length - idle} over the memory budget)\n`,
  );
  return fresh.length;
}

function rssLine(label: string, pid: number): number {
  const { rss, peak } = memoryOf(pid);
  process.stdout.write(
    `${label.padEnd(46)} RSS ${formatBytes(rss).padStart(11)}   peak ${formatBytes(peak)}\n`,
  );
  return rss;
}

/**
 * One request to each of apps 0..count-1, 8 at a time within the request budget: prints the
 * latency and any answer but hello-p020's.
 */
async function requestEach(count: number, label: string): Promise<void> {
  const latencies: number[] = [];
  const badAnswers: string[] = [];
  const requestsStarted = performance.now();
  const requestsOverBudget = () => performance.now() - requestsStarted > REQUEST_BUDGET_MS;
  await forEachLimited(
    count,
    REQUEST_CONCURRENCY,
    async (i) => {
      const t0 = performance.now();
      try {
        const res = await within(CALL_TIMEOUT_MS, get(gw, hostOf(i), "/"), `request to ${appName(i)}`);
        latencies.push(performance.now() - t0);
        if (res.status !== 200 || res.text !== EXPECTED_BODY) {
          badAnswers.push(`${appName(i)}: ${res.status} ${res.text.slice(0, 200)}`);
        }
      } catch (err) {
        badAnswers.push(`${appName(i)}: ${(err as Error).message}`);
      }
      if ((i + 1) % (PROGRESS_EVERY * 4) === 0) process.stderr.write(`requested ${i + 1}/${count} apps\n`);
    },
    requestsOverBudget,
  );
  if (latencies.length + badAnswers.length < count) {
    process.stdout.write(`stopped requesting after ${REQUEST_BUDGET_MS / 1000} s: the budget ran out\n`);
  }
  const requestSeconds = (performance.now() - requestsStarted) / 1000;
  process.stdout.write(
    `${label} of ${latencies.length} apps in ${requestSeconds.toFixed(1)} s (${REQUEST_CONCURRENCY} at a time): ` +
      `p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, ${badAnswers.length} not 200 "${EXPECTED_BODY}"\n`,
  );
  for (const bad of badAnswers.slice(0, 5)) process.stdout.write(`  bad: ${bad}\n`);
}

const fixture = await buildGuest("fixture", "hello-p020");
const base = readFileSync(fixture);
const nonce = randomBytes(8).toString("hex");
// The unload lines are info: with --unload-idle-s the gateway logs at info, so that the last pass
// runs only once apps were seen to unload, and its request lines (one per request) are dropped
// unread. Without it, warn, as before, so the 1,000-app figures stay comparable.
const gw = await startGateway({
  args: [
    "--log-level",
    unloadIdleS === undefined ? "warn" : "info",
    ...(unloadIdleS === undefined ? [] : ["--unload-idle-s", String(unloadIdleS)]),
    ...values["gateway-arg"],
  ],
  requestLogs: "drop",
});
const pid = gw.process.pid!;
// The last of the gateway's stderr, to show if it dies under the load.
let stderrTail = "";
gw.process.stderr!.on("data", (chunk) => {
  stderrTail = (stderrTail + chunk).slice(-4000);
});
const died = new Promise<string>((resolve) =>
  gw.process.once("exit", (code, signal) => resolve(`the gateway exited (code ${code}, signal ${signal})`)),
);
try {
  process.stdout.write(
    `${appCount} apps, each a distinct hello-p020 (${base.byteLength} bytes + a custom section)\n`,
  );
  rssLine("after start", pid);

  const failures: string[] = [];
  let deployed = 0;
  const started = performance.now();
  const overBudget = () => performance.now() - started > DEPLOY_BUDGET_MS;
  await forEachLimited(
    appCount,
    concurrency,
    async (i) => {
      try {
        await deploy(gw, base, nonce, i);
        deployed++;
      } catch (err) {
        failures.push(`${appName(i)}: ${(err as Error).message}`);
      }
      const done = deployed + failures.length;
      if (done % PROGRESS_EVERY === 0) {
        const s = (performance.now() - started) / 1000;
        process.stderr.write(
          `deployed ${done}/${appCount} (${failures.length} failed) in ${s.toFixed(1)} s, RSS ${formatBytes(memoryOf(pid).rss)}\n`,
        );
      }
    },
    overBudget,
  );
  const deploySeconds = (performance.now() - started) / 1000;
  if (overBudget() && deployed + failures.length < appCount) {
    process.stdout.write(`stopped deploying after ${DEPLOY_BUDGET_MS / 1000} s: the budget ran out\n`);
  }
  process.stdout.write(
    `deployed ${deployed} apps in ${deploySeconds.toFixed(1)} s: ${(deployed / deploySeconds).toFixed(1)} apps/s (${concurrency} at a time, admin API)\n`,
  );
  for (const failure of failures.slice(0, 5)) process.stdout.write(`  failed: ${failure}\n`);
  if (failures.length > 5) process.stdout.write(`  … and ${failures.length - 5} more failures\n`);
  const idle = rssLine(`after deploying ${deployed} apps (idle)`, pid);
  if (unloadIdleS !== undefined) unloadsSince(gw, "while deploying");
  const verdict = (rss: number) =>
    rss < target.goal ? "meets the goal" : rss < target.floor ? "meets the floor" : "MISSES the floor";
  const goalText = `goal < ${formatBytes(target.goal)}, floor < ${formatBytes(target.floor)}, for ${target.of} apps`;
  process.stdout.write(`  idle RSS ${verdict(idle)} (${goalText})\n`);

  const attempted = deployed + failures.length;
  await requestEach(attempted, "one request to each");
  rssLine("after one request to each app", pid);
  const unloadedInRequests = unloadIdleS === undefined ? 0 : unloadsSince(gw, "during those requests");
  if (idleWaitS > 0) {
    process.stderr.write(`waiting ${idleWaitS} s for idle instances to be dropped…\n`);
    const outcome = await Promise.race([sleep(idleWaitS * 1000).then(() => undefined), died]);
    if (outcome !== undefined) {
      throw new Error(
        `${outcome} while idle; its last stderr:\n${stderrTail}\nits last log lines:\n${gw.logs
          .slice(-5)
          .map((l) => JSON.stringify(l))
          .join("\n")}`,
      );
    }
    const after = rssLine(`after ${idleWaitS} s without requests`, pid);
    const live = metric(await scrape(gw), "wasmgate_instances_live");
    process.stdout.write(`  instances live: ${live}; idle RSS ${verdict(after)} (${goalText})\n`);
    if (unloadIdleS !== undefined) {
      const unloaded =
        unloadedInRequests + unloadsSince(gw, `during the idle wait (unload idle time ${unloadIdleS} s)`);
      // Only a pass over apps that were unloaded since their last request measures loading them
      // again on demand.
      if (unloaded > 0) {
        await requestEach(attempted, "loaded again on demand: one request to each");
        const reloaded = rssLine("after one request to each unloaded app", pid);
        unloadsSince(gw, "during those requests");
        process.stdout.write(`  RSS ${verdict(reloaded)} (${goalText})\n`);
      }
    }
  }
} finally {
  await gw.dispose();
}
