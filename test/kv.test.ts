// Key-value storage end to end: the counter example on a gateway backed by a real redis-server,
// through restarts and a Redis outage.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { buildGuest } from "../scripts/guests.ts";
import { type GatewayProcess, get, push, runCli, startGateway, tempDir } from "./harness/gateway.ts";
import { waitFor } from "./harness/ops.ts";
import { type RedisServer, startRedisServer } from "./harness/redis-server.ts";

let redis: RedisServer;
let gw: GatewayProcess;
const stateDir = tempDir();
let counter: string;

function kv(args: string[]) {
  return runCli(["kv", ...args, "--gateway", gw.adminUrl], { WASMGATE_TOKEN: gw.token });
}

before(async () => {
  redis = await startRedisServer({ appendOnly: true });
  counter = await buildGuest("example", "counter");
  gw = await startGateway({ stateDir, env: { REDIS_URL: redis.url } });
  await push(gw, counter, "counter", ["--host", "counter.localhost"]);
  await push(gw, await buildGuest("example", "hello-fast"), "hello", ["--host", "hello.localhost"]);
});
after(async () => {
  await gw?.dispose();
  await redis?.destroy();
});

describe("key-value", () => {
  it("counts 1,000 concurrent increments exactly", async () => {
    const results = await Promise.all(
      Array.from({ length: 1000 }, () => get(gw, "counter.localhost", "/hits")),
    );
    const counts = results.map((r) => {
      assert.equal(r.status, 200, r.text);
      return Number(/visited (\d+) time/.exec(r.text)?.[1]);
    });
    assert.deepEqual(
      [...counts].sort((a, b) => a - b),
      Array.from({ length: 1000 }, (_, i) => i + 1),
      "every increment saw a distinct value",
    );
    const read = await kv(["get", "visits:/hits", "--app", "counter"]);
    assert.equal(read.code, 0, read.stderr);
    assert.equal(read.stdout, "1000");
  });

  it("keeps the value across a gateway restart", async () => {
    assert.equal(await gw.stop(), 0);
    gw = await startGateway({ stateDir, env: { REDIS_URL: redis.url } });
    const res = await get(gw, "counter.localhost", "/hits");
    assert.equal(res.text, "/hits has been visited 1001 times\n");
  });

  it("fails KV requests fast while Redis is down, keeps other apps up, and recovers by itself", async () => {
    // Apps and routes live in Redis too: an app this gateway has served keeps serving from what it
    // knows during the outage.
    assert.equal((await get(gw, "hello.localhost", "/before")).status, 200);
    await redis.stop();
    const started = performance.now();
    const down = await get(gw, "counter.localhost", "/hits");
    const ms = performance.now() - started;
    assert.equal(down.status, 503, "the guest got the store error as a value and answered it");
    assert.match(down.text, /unavailable: ERR_KV_(UNAVAILABLE|TIMEOUT)/);
    assert.ok(ms < 2000, `answered after ${ms.toFixed(0)} ms`);
    for (let i = 0; i < 5; i++) assert.equal((await get(gw, "hello.localhost", `/up-${i}`)).status, 200);
    // What the guest wrote to stderr is in the gateway's log, tagged with that request (log lines
    // are written in batches, within 25 ms).
    const id = down.headers.get("x-request-id");
    const isLine = (l: Record<string, unknown>) => l.msg === "guest output" && l.requestId === id;
    await waitFor(() => gw.logs.some(isLine), 5000, "the guest's stderr line in the log");
    const line = gw.logs.find(isLine);
    assert.equal(line?.stream, "stderr");
    assert.equal(line?.app, "counter");
    assert.match(String(line?.line), /^counter \/hits: ERR_KV_(UNAVAILABLE|TIMEOUT)/);

    await redis.restart();
    let after = await get(gw, "counter.localhost", "/hits");
    for (let i = 0; i < 40 && after.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 250));
      after = await get(gw, "counter.localhost", "/hits");
    }
    assert.equal(after.text, "/hits has been visited 1002 times\n", "continues from the stored value");
  });

  it("lets the CLI put, list, get and delete what guests see, and refuses ungranted buckets", async () => {
    assert.equal((await kv(["put", "greeting", "hello", "--app", "counter", "--ttl", "60"])).code, 0);
    const listed = await kv(["list", "--app", "counter", "--json"]);
    assert.deepEqual(JSON.parse(listed.stdout).keys.sort(), ["greeting", "visits:/hits"]);
    assert.equal((await kv(["get", "greeting", "--app", "counter"])).stdout, "hello");
    assert.equal((await kv(["delete", "greeting", "--app", "counter"])).code, 0);
    const gone = await kv(["get", "greeting", "--app", "counter"]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /ERR_KV_KEY_NOT_FOUND/);
    const denied = await kv(["list", "--app", "counter", "--bucket", "secrets"]);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /ERR_BUCKET_NOT_GRANTED/);
  });

  it("answers access-denied to a guest opening a bucket its app was not granted", async () => {
    await push(gw, counter, "counter", ["--bucket", "other"]);
    const res = await get(gw, "counter.localhost", "/hits");
    assert.equal(res.status, 503);
    assert.equal(res.text, "the counter is unavailable: access-denied\n");
    await push(gw, counter, "counter", ["--bucket", "default"]);
    assert.equal((await get(gw, "counter.localhost", "/hits")).text, "/hits has been visited 1003 times\n");
  });
});
