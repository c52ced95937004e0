// Several gateway processes on one Redis behave as one: what is pushed, rolled back or revoked on
// any of them holds on all of them within a second, and a gateway started later catches up.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { buildGuest } from "../scripts/guests.ts";
import { adminCall, type GatewayProcess, get, startGateway } from "./harness/gateway.ts";
import { type RedisServer, startRedisServer } from "./harness/redis-server.ts";

let redis: RedisServer;
let one: GatewayProcess;
let two: GatewayProcess;
let fast: Uint8Array;
let wat: Uint8Array;

const FAST = /fast world/;
const WAT = /^hello from wat$/;

before(async () => {
  fast = new Uint8Array(readFileSync(await buildGuest("example", "hello-fast")));
  wat = new Uint8Array(readFileSync(await buildGuest("fixture", "hello-p020")));
  redis = await startRedisServer();
  const env = { REDIS_URL: redis.url };
  [one, two] = await Promise.all([
    startGateway({ env, args: ["--workers", "1"] }),
    startGateway({ env, args: ["--workers", "1"] }),
  ]);
});
after(async () => {
  await Promise.all([one?.dispose(), two?.dispose()]);
  await redis?.destroy();
});

/** Milliseconds until `gw` answers `host` with a body matching `body` (fails after 5 s). */
async function timeUntilServed(gw: GatewayProcess, host: string, body: RegExp): Promise<number> {
  const started = performance.now();
  let last = "";
  while (performance.now() - started < 5000) {
    const res = await get(gw, host, "/");
    last = `${res.status} ${res.text}`;
    if (res.status === 200 && body.test(res.text)) return performance.now() - started;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${host} never served ${body}; last answer: ${last}`);
}

async function deploy(gw: GatewayProcess, app: string, bytes: Uint8Array) {
  const res = await adminCall(gw, "POST", `/v1/apps/${app}/deployments`, { body: bytes });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.deployment as { id: string };
}

describe("two gateways on one Redis", () => {
  it("serve a push made on either within a second, and follow a rollback made on the other", async () => {
    const created = await adminCall(one, "PUT", "/v1/apps/shared", {
      json: { hostnames: ["shared.localhost"] },
    });
    assert.equal(created.status, 201);
    // The app, its hostnames and the operator's tokens are the same on both.
    assert.deepEqual(
      (await adminCall(two, "GET", "/v1/apps/shared", { token: one.token })).body,
      created.body,
    );

    await deploy(one, "shared", fast);
    const first = await timeUntilServed(two, "shared.localhost", FAST);
    await deploy(one, "shared", wat);
    const second = await timeUntilServed(two, "shared.localhost", WAT);
    assert.ok(second < 1000, `the second gateway served the new version after ${second.toFixed(0)} ms`);

    const back = await adminCall(two, "POST", "/v1/apps/shared/rollback");
    assert.equal(back.status, 201, JSON.stringify(back.body));
    const followed = await timeUntilServed(one, "shared.localhost", FAST);
    assert.ok(followed < 1000, `the first gateway followed the rollback after ${followed.toFixed(0)} ms`);
    console.log(
      `push → other gateway serving: first version ${first.toFixed(0)} ms, next version ${second.toFixed(0)} ms; rollback followed in ${followed.toFixed(0)} ms`,
    );

    const sm = new Uint8Array(readFileSync(await buildGuest("example", "hello")));
    await deploy(one, "shared", sm);
    // The other gateway fetches the prepared files instead of compiling 14 MB again.
    const starlingMonkey = await timeUntilServed(two, "shared.localhost", /Hello from wasmgate!/);
    assert.ok(
      starlingMonkey < 1500,
      `StarlingMonkey hello served by the other gateway after ${starlingMonkey} ms`,
    );
    console.log(`StarlingMonkey (14 MB) push → other gateway serving: ${starlingMonkey.toFixed(0)} ms`);

    // Hostname ownership holds across gateways: the other one refuses a second owner.
    const conflict = await adminCall(two, "PUT", "/v1/apps/intruder", {
      json: { hostnames: ["shared.localhost"] },
    });
    assert.equal(conflict.status, 409);
  });

  it("refuse a token revoked on the other gateway within a second", async () => {
    assert.equal(
      (await adminCall(one, "PUT", "/v1/tenants/fleet", { json: { hostnames: ["*.fleet.localhost"] } }))
        .status,
      201,
    );
    const issued = await adminCall(one, "POST", "/v1/tokens", {
      json: { tenant: "fleet", scopes: ["apps:read"] },
    });
    assert.equal(issued.status, 201);
    const token = issued.body.token as string;
    assert.equal(
      (await adminCall(two, "GET", "/v1/apps", { token })).status,
      200,
      "issued on one, valid on two",
    );
    assert.equal((await adminCall(two, "DELETE", `/v1/tokens/${issued.body.info.id}`)).status, 200);
    const started = performance.now();
    let res = await adminCall(one, "GET", "/v1/apps", { token });
    while (res.status === 200 && performance.now() - started < 5000) {
      await new Promise((r) => setTimeout(r, 20));
      res = await adminCall(one, "GET", "/v1/apps", { token });
    }
    const ms = performance.now() - started;
    assert.equal(res.status, 401);
    assert.equal(res.body.error.code, "ERR_AUTH_REVOKED");
    assert.ok(ms < 1000, `refused after ${ms.toFixed(0)} ms`);
  });

  it("let a gateway started later serve everything without restarting the others", async () => {
    assert.equal(
      (await adminCall(two, "PUT", "/v1/apps/late", { json: { hostnames: ["late.localhost"] } })).status,
      201,
    );
    await deploy(two, "late", wat);
    const three = await startGateway({ env: { REDIS_URL: redis.url }, args: ["--workers", "1"] });
    try {
      assert.match((await get(three, "late.localhost")).text, WAT);
      assert.match((await get(three, "shared.localhost")).text, /^Hello from wasmgate!/);
      // And a change made on the newcomer reaches the others.
      await deploy(three, "late", fast);
      assert.ok((await timeUntilServed(one, "late.localhost", FAST)) < 1000);
    } finally {
      await three.dispose();
    }
  });
});
