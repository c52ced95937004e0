// Idle apps are unloaded from their worker (code and instances) after --unload-idle-s and loaded
// again by their next request: it answers correctly, the app's key-value data is still there, and
// a request in flight is never cut off by the unload.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { buildGuest } from "../scripts/guests.ts";
import { type GatewayProcess, get, push, startGateway } from "./harness/gateway.ts";

/** The gateway's settings: unload after 1 s idle; the idle sweep runs every 250 ms. */
const UNLOAD_IDLE_S = 1;
/** Long enough past the idle time for a sweep to have unloaded the app. */
const UNLOAD_WAIT_MS = 2_500;

let gw: GatewayProcess;

function unloads(): number {
  return gw.logs.filter((l) => l.msg === "unloaded an app that had no request for the unload idle time")
    .length;
}

before(async () => {
  gw = await startGateway({
    args: ["--instance-idle-s", "1", "--unload-idle-s", String(UNLOAD_IDLE_S), "--workers", "1"],
  });
  await push(gw, await buildGuest("example", "counter"), "counter", [
    "--host",
    "counter.localhost",
    "--bucket",
    "default",
  ]);
  await push(gw, await buildGuest("fixture", "slow"), "slow", ["--host", "slow.localhost"]);
});
after(async () => {
  await gw?.dispose();
});

describe("idle unload", () => {
  it("loads an unloaded app again on its next request, its key-value data intact", async () => {
    const first = await get(gw, "counter.localhost", "/visits");
    assert.equal(first.status, 200, first.text);
    assert.equal(first.text, "/visits has been visited 1 time\n");
    const before = unloads();
    await sleep(UNLOAD_WAIT_MS);
    assert.ok(unloads() > before, "the idle app was unloaded");
    const again = await get(gw, "counter.localhost", "/visits");
    assert.equal(again.status, 200, again.text);
    assert.equal(again.text, "/visits has been visited 2 times\n");
  });

  it("never unloads an app while its request is in flight", async () => {
    // Every app idle and unloaded first, so that no other app's unload falls in the request.
    await sleep(UNLOAD_WAIT_MS);
    const before = unloads();
    // The slow guest waits about 2 s, past the 1 s idle time, before it answers.
    const res = await get(gw, "slow.localhost", "/");
    assert.equal(res.status, 200, res.text);
    assert.equal(res.text, "slow done");
    assert.equal(unloads(), before, "nothing was unloaded while the request ran");
    // Unloaded once idle after it answered; then it answers again.
    await sleep(UNLOAD_WAIT_MS);
    assert.ok(unloads() > before, "the app was unloaded once idle");
    const again = await get(gw, "slow.localhost", "/");
    assert.equal(again.status, 200, again.text);
    assert.equal(again.text, "slow done");
  });
});
