// Storage per app, end to end on both backends: two apps running the counter example each count in
// their own `default` bucket, share one only when both name it (sharedBuckets), and an app record
// from before buckets were an app's own keeps reading its keys after a restart.

import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { buildGuest } from "../scripts/guests.ts";
import {
  adminCall,
  type GatewayProcess,
  get,
  push,
  runCli,
  startGateway,
  tempDir,
} from "./harness/gateway.ts";
import { type RedisServer, startRedisServer } from "./harness/redis-server.ts";

let counter: string;
before(async () => {
  counter = await buildGuest("example", "counter");
});

const visits = async (gw: GatewayProcess, host: string) => {
  const res = await get(gw, host, "/");
  assert.equal(res.status, 200, res.text);
  return Number(/visited (\d+) time/.exec(res.text)?.[1]);
};

for (const backend of ["embedded", "redis"] as const) {
  describe(`storage per app (${backend})`, () => {
    let redis: RedisServer | undefined;
    let gw: GatewayProcess;
    const stateDir = tempDir();
    const env = (): Record<string, string> => (redis ? { REDIS_URL: redis.url } : {});

    before(async () => {
      if (backend === "redis") redis = await startRedisServer();
      gw = await startGateway({ stateDir, env: env() });
      for (const app of ["one", "two"]) await push(gw, counter, app, ["--host", `${app}.localhost`]);
    });
    after(async () => {
      await gw?.dispose();
      await redis?.destroy();
    });

    it("gives each app its own empty default bucket", async () => {
      assert.equal(await visits(gw, "one.localhost"), 1);
      assert.equal(await visits(gw, "one.localhost"), 2);
      assert.equal(await visits(gw, "two.localhost"), 1, "two starts from an empty store");
      const listed = await runCli(["kv", "list", "--app", "two", "--gateway", gw.adminUrl], {
        WASMGATE_TOKEN: gw.token,
      });
      assert.equal(listed.code, 0, listed.stderr);
      assert.equal(listed.stdout.trim(), "visits:/", "only two's own key");
      const empty = await runCli(["kv", "list", "--app", "two", "--prefix", "x", "--gateway", gw.adminUrl], {
        WASMGATE_TOKEN: gw.token,
      });
      assert.equal(empty.code, 0, empty.stderr);
      assert.equal(empty.stdout, "");
      assert.match(empty.stderr, /^No keys starting with "x" in the bucket default of two\.$/m);
      // A value that is not UTF-8 comes as base64 in --json; metadata that is not JSON as text.
      await adminCall(gw, "PUT", "/v1/apps/two/kv/default/value?key=bin", {
        body: new Uint8Array([0xff, 0x00, 0x80]),
        contentType: "application/octet-stream",
      });
      const bin = await runCli(["kv", "get", "bin", "--app", "two", "--json", "--gateway", gw.adminUrl], {
        WASMGATE_TOKEN: gw.token,
      });
      assert.deepEqual(JSON.parse(bin.stdout), {
        key: "bin",
        value: "/wCA",
        encoding: "base64",
        metadata: null,
      });
    });

    it("shares a bucket only between apps that both name it in sharedBuckets", async () => {
      // --shared-bucket on push, and sharedBuckets on the admin API.
      await push(gw, counter, "three", ["--host", "three.localhost", "--shared-bucket", "default"]);
      const put = await adminCall(gw, "PUT", "/v1/apps/two", { json: { sharedBuckets: ["default"] } });
      assert.equal(put.status, 200, JSON.stringify(put.body));
      assert.deepEqual(put.body.app.sharedBuckets, ["default"]);
      assert.equal(await visits(gw, "three.localhost"), 1);
      assert.equal(await visits(gw, "two.localhost"), 2, "two and three count together now");
      assert.equal(await visits(gw, "one.localhost"), 3, "one still counts alone");
      const shared = await adminCall(gw, "GET", "/v1/apps/three/kv/default/value?key=visits:/");
      assert.equal(shared.status, 200);
    });

    it("keeps an app from before buckets were an app's own on the tenant's keys, after a restart", async () => {
      // Write to the tenant-level default through a shared grant, then make the record look as an
      // older gateway wrote it: buckets only, no sharedBuckets.
      await push(gw, counter, "legacy", ["--host", "legacy.localhost", "--shared-bucket", "default"]);
      const before = await visits(gw, "legacy.localhost");
      assert.equal(await gw.stop(), 0);
      if (redis) {
        const raw = new Redis(redis.url);
        const key = "{wasmgate}:app:default/legacy";
        const record = JSON.parse((await raw.get(key))!);
        delete record.sharedBuckets;
        await raw.set(key, JSON.stringify({ ...record, buckets: ["default"] }));
        raw.disconnect();
      } else {
        const db = new DatabaseSync(join(stateDir, "state.db"));
        db.prepare("UPDATE apps SET grants = ? WHERE name = 'legacy'").run(
          JSON.stringify({ buckets: ["default"], allowedOutboundHosts: [] }),
        );
        db.close();
      }
      gw = await startGateway({ stateDir, env: env() });
      assert.equal(await visits(gw, "legacy.localhost"), before + 1, "the tenant's keys, as before");
      const view = await adminCall(gw, "GET", "/v1/apps/legacy");
      assert.deepEqual([view.body.app.buckets, view.body.app.sharedBuckets], [[], ["default"]]);
      assert.equal(await visits(gw, "one.localhost"), 4, "a current app keeps its own");
    });
  });
}
