// The watchdog counts CPU, not wall time: a gateway the host stops scheduling (SIGSTOP/SIGCONT, as
// a container CPU quota or a paused VM would) kills no guest for CPU and fails no request, while a
// guest that really loops is still stopped (test/limits.test.ts times that), and one that runs past
// the stall limit without yielding is stopped as stalled.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { buildGuest } from "../scripts/guests.ts";
import { type GatewayProcess, get, push, startGateway } from "./harness/gateway.ts";
import { waitFor } from "./harness/ops.ts";

let gw: GatewayProcess;

before(async () => {
  gw = await startGateway({ args: ["--workers", "2"] });
  await push(gw, await buildGuest("example", "hello-fast"), "fast", ["--host", "fast.localhost"]);
  await push(gw, await buildGuest("example", "hello"), "std", ["--host", "std.localhost"]);
  for (const host of ["fast.localhost", "std.localhost"])
    assert.equal((await get(gw, host, "/")).status, 200);
});
after(async () => {
  await gw?.dispose();
});

describe("a watchdog that counts CPU", () => {
  it("kills nothing and fails nothing when the whole gateway is frozen 20 × 150 ms under light traffic", async () => {
    const pid = gw.process.pid!;
    let stop = false;
    const statuses: number[] = [];
    const client = async (host: string) => {
      for (let i = 0; !stop; i++) {
        const res = await get(gw, host, `/light/${i}`);
        statuses.push(res.status);
        if (res.status !== 200) assert.fail(`${host}: ${res.status} ${res.text}`);
      }
    };
    const clients = [client("fast.localhost"), client("std.localhost"), client("fast.localhost")];
    for (let i = 0; i < 20; i++) {
      await sleep(40);
      process.kill(pid, "SIGSTOP");
      await sleep(150);
      process.kill(pid, "SIGCONT");
    }
    stop = true;
    await Promise.all(clients);
    assert.ok(statuses.length > 40, `${statuses.length} requests were answered meanwhile`);
    assert.deepEqual(
      gw.logs.filter((l) => typeof l.msg === "string" && l.msg.includes("restarting its worker")),
      [],
      "no worker was restarted",
    );
  });

  it("stops a guest that runs past the stall limit without yielding, even within its CPU budget", async () => {
    await push(gw, await buildGuest("fixture", "infinite-loop"), "spin", [
      "--host",
      "spin.localhost",
      "--cpu-ms",
      "20000",
    ]);
    const started = performance.now();
    const res = await get(gw, "spin.localhost", "/");
    const ms = performance.now() - started;
    assert.equal(res.status, 503, res.text);
    assert.equal(res.json().error.code, "ERR_RUNTIME_STALLED");
    assert.ok(ms >= 2000 && ms < 4000, `answered after ${ms.toFixed(0)} ms; the stall limit is 2 s`);
    const stalled = (l: Record<string, unknown>) =>
      l.msg === "guest stalled without yielding; restarting its worker";
    await waitFor(() => gw.logs.some(stalled), 5000, "the stall's log line");
    assert.equal(gw.logs.find(stalled)!.reason, "stalled");
    assert.equal((await get(gw, "fast.localhost", "/after-stall")).status, 200);
  });

  it("ends a request whose guest waits past its deadline without restarting the worker", async () => {
    await push(gw, await buildGuest("fixture", "slow"), "late", [
      "--host",
      "late.localhost",
      "--deadline-ms",
      "300",
    ]);
    const seen = gw.logs.length;
    for (let i = 0; i < 3; i++) {
      const res = await get(gw, "late.localhost", "/");
      assert.equal(res.status, 504);
      assert.equal(res.json().error.code, "ERR_RUNTIME_DEADLINE");
    }
    // The abandoned guests must not look like running ones to the watchdog, even past the stall limit.
    await sleep(2500);
    assert.deepEqual(
      gw.logs.slice(seen).filter((l) => typeof l.msg === "string" && l.msg.includes("restarting its worker")),
      [],
    );
    assert.equal((await get(gw, "fast.localhost", "/after-deadlines")).status, 200);
  });
});
