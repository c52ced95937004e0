// A Redis outage against real processes: a gateway restarted while Redis is down serves every
// app that does not use key-value from its route snapshot, says so in /readyz, fails key-value
// calls fast, and is back to normal by itself once Redis returns.

import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { buildGuest } from "../scripts/guests.ts";
import { adminCall, type GatewayProcess, get, push, startGateway, tempDir } from "./harness/gateway.ts";
import { waitFor } from "./harness/ops.ts";
import { type RedisServer, startRedisServer } from "./harness/redis-server.ts";

let redis: RedisServer;
const stateDir = tempDir("wasmgate-outage-");

before(async () => {
  redis = await startRedisServer({ appendOnly: true });
});
after(() => redis?.destroy());

async function readyz(gw: GatewayProcess) {
  const res = await fetch(`${gw.adminUrl}/readyz`);
  return { status: res.status, body: (await res.json()) as any };
}

describe("a Redis outage", () => {
  it("a gateway restarted during it serves its snapshot, and recovers when Redis is back", async (t) => {
    const env = { REDIS_URL: redis.url };
    let gw = await startGateway({ stateDir, env });
    try {
      await push(gw, await buildGuest("example", "hello-fast"), "plain", ["--host", "plain.localhost"]);
      await push(gw, await buildGuest("example", "counter"), "counter", ["--host", "counter.localhost"]);
      assert.equal(
        (await adminCall(gw, "PUT", "/v1/apps/plain/vars/GREETING", { json: { value: "hi" } })).status,
        200,
      );
      assert.equal((await get(gw, "plain.localhost", "/")).status, 200);
      assert.equal((await get(gw, "counter.localhost", "/")).status, 200);
      const snapshot = join(stateDir, "routes.json");
      await waitFor(
        () => existsSync(snapshot) && readFileSync(snapshot, "utf8").includes("counter.localhost"),
        5_000,
        "the route snapshot holds both apps",
      );
    } finally {
      await gw.dispose();
    }

    await redis.stop();
    const started = performance.now();
    gw = await startGateway({ stateDir, env });
    try {
      t.diagnostic(`started without Redis in ${(performance.now() - started).toFixed(0)} ms`);
      const res = await get(gw, "plain.localhost", "/");
      assert.equal(res.status, 200, res.text);
      assert.match(res.text, /^Hello from wasmgate/);
      const ready = await readyz(gw);
      assert.equal(ready.status, 503);
      assert.equal(ready.body.checks.routes.from, "snapshot");
      assert.match(ready.body.checks.routes.error, /route snapshot/);

      const kvStarted = performance.now();
      const kv = await get(gw, "counter.localhost", "/");
      const kvMs = performance.now() - kvStarted;
      t.diagnostic(`a key-value request during the outage: ${kv.status} after ${kvMs.toFixed(0)} ms`);
      assert.ok(kv.status >= 500, `${kv.status}: ${kv.text}`);
      assert.ok(kvMs < 3_000, `it failed after ${kvMs.toFixed(0)} ms`);

      await redis.restart();
      const back = await waitFor(async () => (await readyz(gw)).status === 200, 15_000, "ready again");
      t.diagnostic(`ready again ${back.toFixed(0)} ms after Redis returned`);
      assert.equal((await readyz(gw)).body.checks.routes.from, "state");
      const counted = await get(gw, "counter.localhost", "/");
      assert.equal(counted.status, 200, counted.text);
      assert.equal((await get(gw, "plain.localhost", "/")).status, 200);
    } finally {
      await gw.dispose();
    }
  });
});
