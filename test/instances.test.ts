// An app's instances: reused from request to request by default, or one in its first state for
// every request with `instances: "per-request"` (Spin's semantics), whatever the guest; and
// fetch-event guests, which can answer only once per instance, served request after request.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { buildGuest } from "../scripts/guests.ts";
import { adminCall, type GatewayProcess, get, push, startGateway } from "./harness/gateway.ts";
import { metric, scrape } from "./harness/ops.ts";

let gw: GatewayProcess;

before(async () => {
  // One worker: every request of an app meets the same instances.
  gw = await startGateway({ args: ["--workers", "1"] });
});

after(async () => {
  await gw?.dispose();
});

/** Instances the gateway has made so far. */
const instancesMade = async () => metric(await scrape(gw), "wasmgate_cold_starts_total");

/** `/box?set=X` keeps X in the guest's module state; `/box` shows what is kept. */
const box = (host: string, query = "") => get(gw, host, `/box${query}`).then((r) => `${r.status} ${r.text}`);

for (const [fixture, what] of [
  ["hostile-edge", "a fast-world QuickJS guest"],
  ["hostile-http", "a StarlingMonkey wasi:http guest"],
] as const) {
  describe(`${what} (${fixture})`, () => {
    it("keeps module state between requests by default", { timeout: 120_000 }, async () => {
      const host = `${fixture}-reuse.localhost`;
      await push(gw, await buildGuest("fixture", fixture), `${fixture}-reuse`, ["--host", host]);
      assert.equal(await box(host, "?set=kept"), "200 box:kept");
      for (let i = 0; i < 5; i++) assert.equal(await box(host), "200 box:kept");
    });

    it('keeps nothing between requests with instances: "per-request"', { timeout: 120_000 }, async () => {
      const host = `${fixture}-fresh.localhost`;
      const app = `${fixture}-fresh`;
      await push(gw, await buildGuest("fixture", fixture), app, [
        "--host",
        host,
        "--instances",
        "per-request",
      ]);
      const view = await adminCall(gw, "GET", `/v1/apps/${app}`);
      assert.equal(view.body.app.limits.instances, "per-request");
      // The request that sets it sees it; none after it does, however many run.
      const made = await instancesMade();
      assert.equal(await box(host, "?set=leaked"), "200 box:leaked");
      for (let i = 0; i < 20; i++) assert.equal(await box(host), "200 box:", `request ${i}`);
      // By putting an instance back to its first state, not by making 21.
      assert.ok((await instancesMade()) - made <= 2, "instances are reset, not replaced");
      // Several at once, each on an instance of its own or one reset after the last.
      const all = await Promise.all(Array.from({ length: 8 }, (_, i) => box(host, `?set=c${i}`)));
      assert.deepEqual(
        all,
        Array.from({ length: 8 }, (_, i) => `200 box:c${i}`),
      );
      for (let i = 0; i < 10; i++) assert.equal(await box(host), "200 box:");
      // Back to reuse: state survives again.
      await push(gw, await buildGuest("fixture", fixture), app, ["--instances", "reuse"]);
      assert.equal(await box(host, "?set=again"), "200 box:again");
      assert.equal(await box(host), "200 box:again");
    });
  });
}

describe("a fetch-event guest built by Spin's toolchain (examples/spin-hello)", () => {
  it("answers request after request, each on an instance in its first state", {
    timeout: 300_000,
  }, async () => {
    const host = "spin-hello.localhost";
    await push(gw, await buildGuest("example", "spin-hello"), "spin-hello", ["--host", host]);
    const made = await instancesMade();
    for (let i = 0; i < 30; i++) {
      const answer = await get(gw, host, `/?i=${i}`);
      assert.equal(`${answer.status} ${answer.text}`, "200 Hello, Spin!", `request ${i}`);
    }
    assert.ok((await instancesMade()) - made <= 2, "instances are reset, not replaced");
    const many = await Promise.all(Array.from({ length: 16 }, () => get(gw, host)));
    for (const answer of many) assert.equal(`${answer.status} ${answer.text}`, "200 Hello, Spin!");
  });
});

describe("the instances setting", () => {
  it("takes reuse or per-request, nothing else", async () => {
    const bad = await adminCall(gw, "PUT", "/v1/apps/odd", {
      json: { hostnames: ["odd.localhost"], limits: { instances: "sometimes" } },
    });
    assert.equal(bad.status, 400, JSON.stringify(bad.body));
    const ok = await adminCall(gw, "PUT", "/v1/apps/odd", {
      json: { hostnames: ["odd.localhost"], limits: { instances: "per-request" } },
    });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    assert.equal(ok.body.app.limits.instances, "per-request");
  });
});
