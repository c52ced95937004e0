import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createGatewayEvents, type GatewayEventName, type Warning } from "./events.ts";

const finished = {
  requestId: "r1",
  app: "shop",
  tenant: "default",
  method: "GET",
  path: "/",
  status: 200,
  ms: 1.5,
};

describe("gateway events", () => {
  it("delivers each event to the listeners of its name until they stop", () => {
    const events = createGatewayEvents();
    const seen: unknown[] = [];
    assert.equal(events.listening("request-finished"), false);
    const off = events.on("request-finished", (e) => seen.push(["a", e.requestId]));
    events.on("request-finished", (e) => seen.push(["b", e.status]));
    events.on("warning", (e) => seen.push(["w", e.message]));
    assert.equal(events.listening("request-finished"), true);
    assert.equal(events.listening("guest-output"), false);

    events.emit("request-finished", finished);
    off();
    events.emit("request-finished", { ...finished, status: 404 });
    assert.deepEqual(seen, [
      ["a", "r1"],
      ["b", 200],
      ["b", 404],
    ]);
  });

  it("keeps calling the other listeners when one throws, and reports what it threw", () => {
    const reported: [unknown, GatewayEventName][] = [];
    const events = createGatewayEvents({ onListenerError: (err, name) => reported.push([err, name]) });
    const boom = new Error("listener bug");
    const seen: Warning[] = [];
    events.on("warning", () => {
      throw boom;
    });
    events.on("warning", (w) => seen.push(w));
    events.emit("warning", { message: "response aborted", code: "ERR_X" });
    assert.deepEqual(seen, [{ message: "response aborted", code: "ERR_X" }]);
    assert.deepEqual(reported, [[boom, "warning"]]);
  });
});
