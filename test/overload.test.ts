// Load shedding against a real gateway: a flood of slow requests to one app is refused at once
// past that app's bound, and another app's requests during the flood answer as fast as before.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Agent, request } from "undici";
import { buildGuest } from "../scripts/guests.ts";
import { type GatewayProcess, get, push, startGateway } from "./harness/gateway.ts";
import { metric, scrape, waitFor } from "./harness/ops.ts";

const FLOOD = 2_000;
const QUEUED = 50;
/** How long the slow fixture waits before it answers. */
const SLOW_GUEST_MS = 2_000;
/** The bound the other app's p99 must stay under during the flood. */
const CALM_P99_MS = 250;

let gw: GatewayProcess;

before(async () => {
  gw = await startGateway({ args: ["--workers", "1", "--max-queued-per-app", String(QUEUED)] });
  await push(gw, await buildGuest("fixture", "slow"), "flood", ["--host", "flood.localhost"]);
  await push(gw, await buildGuest("example", "hello-fast"), "calm", ["--host", "calm.localhost"]);
  assert.equal((await get(gw, "calm.localhost", "/")).status, 200);
});
after(() => gw?.dispose());

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

describe("load shedding", () => {
  it("refuses a flood past its app's bound at once, and another app keeps its latency", async (t) => {
    const dispatcher = new Agent({ connections: FLOOD + 10, pipelining: 0 });
    try {
      const flood = Array.from({ length: FLOOD }, async () => {
        const started = performance.now();
        const res = await request(`${gw.dataUrl}/`, { headers: { host: "flood.localhost" }, dispatcher });
        const text = await res.body.text();
        return {
          status: res.statusCode,
          ms: performance.now() - started,
          text,
          retryAfter: res.headers["retry-after"],
        };
      });
      // The other app, during the flood: one request at a time.
      const calm: number[] = [];
      const calmDone = (async () => {
        const until = performance.now() + 1_500;
        while (performance.now() < until) {
          const started = performance.now();
          const res = await get(gw, "calm.localhost", "/");
          assert.equal(res.status, 200, res.text);
          calm.push(performance.now() - started);
        }
      })();
      const results = await Promise.all(flood);
      await calmDone;

      const served = results.filter((r) => r.status === 200);
      const shed = results.filter((r) => r.status === 503);
      assert.equal(served.length + shed.length, FLOOD, "every flood request is answered or refused");
      // One worker runs 16 instances of an app at once (the default), plus the queue.
      assert.ok(served.length <= 16 + QUEUED, `${served.length} served`);
      assert.ok(served.length >= 16, `${served.length} served`);
      for (const r of shed) {
        const body = JSON.parse(r.text);
        assert.equal(body.error.code, "ERR_RUNTIME_OVERLOADED");
        assert.equal(r.retryAfter, "1");
      }
      const shedP99 = percentile(
        shed.map((r) => r.ms),
        99,
      );
      const calmP99 = percentile(calm, 99);
      t.diagnostic(
        `flood: ${served.length} served, ${shed.length} refused (p99 ${shedP99.toFixed(0)} ms); other app: ${calm.length} requests, p99 ${calmP99.toFixed(1)} ms`,
      );
      assert.ok(calm.length >= 5, `${calm.length} calm requests`);
      const slowest = [...calm]
        .sort((a, b) => b - a)
        .slice(0, 5)
        .map((ms) => ms.toFixed(0));
      assert.ok(
        calmP99 < CALM_P99_MS,
        `the other app's p99 was ${calmP99.toFixed(0)} ms during the flood (${calm.length} requests, slowest ${slowest.join(", ")} ms; flood refusals p99 ${shedP99.toFixed(0)} ms)`,
      );
      // Refusals do not wait for the slow guests: one that waited for an instance would take at
      // least a guest's 2 s. (Here they take 0.7-1 s, the time to accept and answer 2,000 new
      // connections from this process on the same two cores.)
      assert.ok(shedP99 < SLOW_GUEST_MS, `refusals took up to ${shedP99.toFixed(0)} ms`);

      // Each refusal is logged once, by its code and message: no stack of the gateway's own
      // calls, which made a flood of refusals a flood of kilobyte log lines.
      const refusalLines = () => gw.logs.filter((l) => l.code === "ERR_RUNTIME_OVERLOADED");
      await waitFor(() => refusalLines().length >= shed.length, 5_000, "a log line per refusal");
      const refusals = refusalLines();
      assert.equal(refusals.length, shed.length);
      for (const line of refusals) {
        assert.equal(line.err, undefined);
        assert.match(String(line.msg), /^the app flood has \d+ requests in flight/);
      }

      const samples = await scrape(gw);
      assert.equal(
        metric(samples, "wasmgate_requests_shed_total", { tenant: "default", app: "flood" }),
        shed.length,
      );
    } finally {
      await dispatcher.close();
    }
  });

  it("refuses a request that waited --max-queue-ms for an instance, long before the guest frees one", async (t) => {
    const own = await startGateway({ args: ["--workers", "1", "--max-queue-ms", "300"] });
    try {
      await push(own, await buildGuest("fixture", "slow"), "busy", ["--host", "busy.localhost"]);
      const started = performance.now();
      const results = await Promise.all(
        Array.from({ length: 40 }, async () => {
          const res = await get(own, "busy.localhost", "/");
          return {
            status: res.status,
            ms: performance.now() - started,
            code: res.status === 200 ? undefined : res.json().error.code,
            retryAfter: res.headers.get("retry-after"),
          };
        }),
      );
      const served = results.filter((r) => r.status === 200);
      const waited = results.filter((r) => r.status === 503);
      t.diagnostic(
        `${served.length} served, ${waited.length} refused after ${Math.max(...waited.map((r) => r.ms)).toFixed(0)} ms at most`,
      );
      assert.equal(served.length + waited.length, 40);
      assert.ok(served.length >= 1 && served.length <= 16, `${served.length} served`);
      assert.ok(waited.length >= 24, `${waited.length} refused`);
      for (const r of waited) {
        assert.equal(r.code, "ERR_RUNTIME_OVERLOADED");
        assert.equal(r.retryAfter, "1");
        assert.ok(
          r.ms < 1_500,
          `refused after ${r.ms.toFixed(0)} ms, not before the 2 s guest freed an instance`,
        );
      }
    } finally {
      await own.dispose();
    }
  });
});
