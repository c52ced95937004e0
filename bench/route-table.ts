// A gateway holding many apps' routes: `--apps` apps (default 10,000), each with its own hostname
// and a deployment of one small component, written straight into a state directory's store (the
// admin API would take minutes for this many), then a gateway started on it. Reports how long the
// store takes to list the whole route table, the gateway's start-up until /readyz answers 200,
// its RSS against a gateway with one app, and that random apps answer.
// Usage: npm run bench:route-table [-- --apps 10000]

import { randomInt } from "node:crypto";
import { parseArgs } from "node:util";
import { createSqliteStateStore } from "../gateway/state/sqlite.ts";
import { DEFAULT_TENANT, routeTable } from "../gateway/state/store.ts";
import { buildGuest } from "../scripts/guests.ts";
import { get, memoryOf, push, startGateway, tempDir } from "../test/harness/gateway.ts";
import { waitFor } from "../test/harness/ops.ts";
import { formatBytes } from "./common.ts";

const { values } = parseArgs({ options: { apps: { type: "string", default: "10000" } } });
const appCount = Number(values.apps);
if (!Number.isInteger(appCount) || appCount < 1) throw new Error("--apps must be a positive integer");

const stateDir = tempDir("wasmgate-bench-routes-");
const guest = await buildGuest("example", "hello-fast");

// One real deployment through the CLI, so the component is stored and prepared like any other.
{
  const gw = await startGateway({ stateDir, args: ["--log-level", "warn", "--workers", "1"] });
  await push(gw, guest, "app-0", ["--host", "app-0.localhost"]);
  await gw.dispose();
}
const baseline = await startGateway({ stateDir, args: ["--log-level", "warn", "--workers", "1"] });
await waitFor(async () => (await fetch(`${baseline.adminUrl}/readyz`)).status === 200, 30_000, "ready");
const oneAppRss = memoryOf(baseline.process.pid!).rss;
await baseline.dispose();

const state = createSqliteStateStore(stateDir);
const first = (await state.listDeployments({ tenant: DEFAULT_TENANT, name: "app-0" }, 1))[0]!;
const writeStarted = performance.now();
for (let i = 1; i < appCount; i++) {
  const app = `app-${i}`;
  await state.putApp({ tenant: DEFAULT_TENANT, name: app }, { hostnames: [`${app}.localhost`] });
  await state.addDeployment({ ...first, id: `${first.id}-${i}`, app });
}
const writeMs = performance.now() - writeStarted;
const listStarted = performance.now();
const routes = await routeTable(state);
const listMs = performance.now() - listStarted;
await state.close();

const started = performance.now();
const gw = await startGateway({
  stateDir,
  args: ["--log-level", "warn", "--workers", "1"],
  timeoutMs: 120_000,
});
await waitFor(async () => (await fetch(`${gw.adminUrl}/readyz`)).status === 200, 120_000, "ready");
const startMs = performance.now() - started;
const rss = memoryOf(gw.process.pid!).rss;
let answered = 0;
for (let i = 0; i < 20; i++) {
  const n = randomInt(appCount);
  const res = await get(gw, `app-${n}.localhost`, "/");
  if (res.status === 200 && res.text.startsWith("Hello from wasmgate (fast world)!")) answered++;
}
await gw.dispose();

process.stdout.write(
  [
    `${appCount} apps: wrote them in ${(writeMs / 1000).toFixed(1)} s; the store lists the route table (${routes.length} routes) in ${listMs.toFixed(0)} ms`,
    `gateway start until /readyz 200: ${startMs.toFixed(0)} ms`,
    `RSS ${formatBytes(rss)} against ${formatBytes(oneAppRss)} with one app (+${formatBytes(rss - oneAppRss)})`,
    `${answered} of 20 random apps answered`,
    "",
  ].join("\n"),
);
