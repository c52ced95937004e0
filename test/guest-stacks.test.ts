// The stacks guests run on (runtime/host/guest-stacks.ts): many guests suspended at once deep in a
// recursion, on a real redis-server, each resumed with its whole stack; the depth a guest may
// recurse to; and an overflow answered as a trap. A real gateway, a real component.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { buildGuest } from "../scripts/guests.ts";
import { type GatewayProcess, get, push, startGateway } from "./harness/gateway.ts";
import { type RedisServer, startRedisServer } from "./harness/redis-server.ts";

const HOST = "deep.localhost";
let redis: RedisServer;
let gw: GatewayProcess;

before(async () => {
  redis = await startRedisServer();
  gw = await startGateway({ env: { REDIS_URL: redis.url } });
  await push(gw, await buildGuest("fixture", "deep-calls"), "deep", ["--host", HOST]);
});
after(async () => {
  await gw?.dispose();
  await redis?.destroy();
});

describe("guest stacks", () => {
  it("resumes many guests suspended deep in a recursion, each with its own stack", async () => {
    // 1,500 calls deep is several segments of a growable stack; on Redis every guest suspends at
    // the bottom, so many are suspended at once and each must come back to its own frames.
    const requests = 64;
    const answers = await Promise.all(Array.from({ length: requests }, () => get(gw, HOST, "/1500?kv")));
    const counts: number[] = [];
    for (const res of answers) {
      assert.equal(res.status, 200, res.text);
      const match = /^depth 1500 count (\d+)$/.exec(res.text);
      assert.ok(match, res.text);
      counts.push(Number(match[1]));
    }
    counts.sort((a, b) => a - b);
    assert.deepEqual(
      counts,
      Array.from({ length: requests }, (_, i) => i + 1),
      "every increment counted once",
    );
  });

  it("lets a guest recurse 1,500 calls deep without suspending", async () => {
    // This guest overflows past about 1,980 calls (2,271 on V8's fixed 984 KiB stacks); frames
    // differ in size from one compiler tier to the next, hence the margin.
    const res = await get(gw, HOST, "/1500");
    assert.equal(res.status, 200, res.text);
    assert.equal(res.text, "depth 1500 count 0");
  });

  it("answers a recursion that overflows the stack with 500 ERR_RUNTIME_TRAP, and serves the next", async () => {
    for (let i = 0; i < 2; i++) {
      const res = await get(gw, HOST, "/1000000?kv");
      assert.equal(res.status, 500, res.text);
      assert.equal(res.json().error.code, "ERR_RUNTIME_TRAP");
      const next = await get(gw, HOST, "/10");
      assert.equal(next.status, 200);
      assert.equal(next.text, "depth 10 count 0");
    }
  });
});
