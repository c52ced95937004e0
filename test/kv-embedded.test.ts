// Key-value calls on the embedded store end to end. There a store call answers on the guest's own
// thread, so the preparer transpiles it as a plain call, and the component's prepared files are
// for that store only: the counters count exactly through the plain calls, and a state directory
// whose compiled files were made for the other store prepares them again instead of serving them.

import assert from "node:assert/strict";
import { readFile, rm } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { buildGuest } from "../scripts/guests.ts";
import { adminCall, type GatewayProcess, get, push, startGateway, tempDir } from "./harness/gateway.ts";
import { metric, scrape } from "./harness/ops.ts";
import { type RedisServer, startRedisServer } from "./harness/redis-server.ts";

const N = 300;

async function preparedFor(gw: GatewayProcess, app: string): Promise<unknown> {
  const listed = await adminCall(gw, "GET", `/v1/apps/${app}/deployments`);
  const digest = listed.body.deployments[0].digest as string;
  const info = JSON.parse(await readFile(path.join(gw.stateDir, "compiled", digest, "info.json"), "utf8"));
  return info.preparedFor;
}

/** `N` concurrent requests to `host`, each answered with its own count: 1..N, each once. */
async function countsExactly(gw: GatewayProcess, host: string, pathname: string, pattern: RegExp) {
  const results = await Promise.all(Array.from({ length: N }, () => get(gw, host, pathname)));
  const counts = results.map((r) => {
    assert.equal(r.status, 200, r.text);
    return Number(pattern.exec(r.text)?.[1]);
  });
  assert.deepEqual(
    counts.sort((a, b) => a - b),
    Array.from({ length: N }, (_, i) => i + 1),
  );
}

describe("key-value on the embedded store", () => {
  let gw: GatewayProcess;
  before(async () => {
    gw = await startGateway();
    await push(gw, await buildGuest("example", "counter"), "counter", ["--host", "counter.localhost"]);
    await push(gw, await buildGuest("example", "counter-fast"), "counter-fast", [
      "--host",
      "counter-fast.localhost",
    ]);
  });
  after(async () => {
    await gw?.dispose();
  });

  it("prepares components for the embedded store", async () => {
    assert.equal(await preparedFor(gw, "counter"), "sqlite");
    assert.equal(await preparedFor(gw, "counter-fast"), "sqlite");
  });

  it("counts concurrent increments exactly, in StarlingMonkey and in the fast world", async () => {
    const before = await scrape(gw);
    await countsExactly(gw, "counter.localhost", "/hits", /visited (\d+) time/);
    await countsExactly(gw, "counter-fast.localhost", "/fast", /visited (\d+) time/);
    const after = await scrape(gw);
    const delta = (op: string) =>
      metric(after, "wasmgate_kv_operations_total", { op }) -
      metric(before, "wasmgate_kv_operations_total", { op });
    // Plain calls are counted like suspending ones: one increment per request, one get per fast one.
    assert.equal(delta("increment"), 2 * N);
    assert.equal(delta("get"), N);
  });
});

describe("compiled files made for the other store", () => {
  let redis: RedisServer;
  // The gateway running now, stopped by `after` too when an assertion fails while it runs.
  let gw: GatewayProcess | undefined;
  const stateDir = tempDir();
  before(async () => {
    redis = await startRedisServer();
  });
  after(async () => {
    await gw?.dispose();
    await redis?.destroy();
    await rm(stateDir, { recursive: true, force: true });
  });

  it("are prepared again, not served: Redis, then the embedded store, then Redis on one state directory", async () => {
    const counterFast = await buildGuest("example", "counter-fast");
    const onRedis = () => startGateway({ stateDir, env: { REDIS_URL: redis.url } });
    gw = await onRedis();
    await push(gw, counterFast, "counter-fast", ["--host", "counter-fast.localhost"]);
    assert.equal(
      (await get(gw, "counter-fast.localhost", "/r")).text,
      "/r has been visited 1 time (0 before)\n",
    );
    assert.equal(await preparedFor(gw, "counter-fast"), "redis");
    assert.equal(await gw.stop(), 0);

    // The same component pushed on the embedded store rewrites its compiled files for that store.
    gw = await startGateway({ stateDir });
    await push(gw, counterFast, "counter-fast", ["--host", "counter-fast.localhost"]);
    assert.equal(
      (await get(gw, "counter-fast.localhost", "/e")).text,
      "/e has been visited 1 time (0 before)\n",
    );
    assert.equal(await preparedFor(gw, "counter-fast"), "sqlite");
    assert.equal(await gw.stop(), 0);

    // Back on Redis, the deployment it knows finds files made for the embedded store.
    gw = await onRedis();
    const res = await get(gw, "counter-fast.localhost", "/r");
    assert.equal(res.status, 200, res.text);
    assert.equal(res.text, "/r has been visited 2 times (1 before)\n");
    assert.equal(await preparedFor(gw, "counter-fast"), "redis");
  });
});
