import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Hono } from "hono";
import { GatewayError } from "../errors.ts";
import { onError } from "../http.ts";
import { DEFAULT_LOG_BUS_LIMITS, LogBus } from "../ops/log-bus.ts";
import type { AppRecord } from "../state/store.ts";
import { type AuthorizeApp, logsRoutes } from "./logs.ts";

const APP: AppRecord = {
  name: "a",
  tenant: "t",
  hostnames: [],
  grants: { buckets: [], allowedOutboundHosts: [] },
  limits: {},
  activeDeployment: undefined,
  createdAt: "",
  updatedAt: "",
};

function setup(bus: LogBus, heartbeatMs = 15_000, authorize?: AuthorizeApp) {
  const app = new Hono();
  app.onError(onError({ error() {} }));
  const asked: [string, string][] = [];
  app.route(
    "/",
    logsRoutes({
      bus,
      heartbeatMs,
      authorizeApp: async (c, name, scope) => {
        asked.push([name, scope]);
        return authorize ? authorize(c, name, scope) : APP;
      },
    }),
  );
  return { app, asked };
}

/** Reads the stream until `done` says the text so far is enough. */
async function readUntil(res: Response, done: (text: string) => boolean): Promise<string> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (!done(text)) {
    const { value, done: end } = await reader.read();
    if (end) break;
    text += decoder.decode(value, { stream: true });
  }
  await reader.cancel();
  return text;
}

describe("logs API", () => {
  it("asks authorizeApp for logs:read, and sends records, drop notices and heartbeats as SSE", {
    timeout: 10_000,
  }, async () => {
    const bus = new LogBus({ ...DEFAULT_LOG_BUS_LIMITS, queueRecords: 1 });
    const { app, asked } = setup(bus, 50);
    const res = await app.request("/v1/apps/a/logs?follow");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/event-stream");
    assert.deepEqual(asked, [["a", "logs:read"]]);
    const base = { time: 0, requestId: "r1", app: "a", tenant: "t" } as const;
    // The stream subscribes as it starts: wait for it before publishing.
    while (bus.subscribers === 0) await new Promise((r) => setImmediate(r));
    bus.publish({ ...base, type: "log", stream: "stderr", line: "one" });
    bus.publish({ ...base, type: "log", stream: "stderr", line: "two" });
    const text = await readUntil(res, (t) => t.includes(": keep-alive"));
    assert.match(
      text,
      /^: following\n\nevent: log\ndata: \{"time":"1970-01-01T00:00:00\.000Z","requestId":"r1","app":"a","tenant":"t","type":"log","stream":"stderr","line":"one"\}\n\nevent: dropped\ndata: \{"type":"dropped","count":1\}\n\n(: keep-alive\n\n)+$/,
    );
    // Cancelling the response (the client went away) ends the subscription.
    while (bus.subscribers > 0) await new Promise((r) => setTimeout(r, 5));
  });

  it("answers what authorizeApp refuses with its error, and follows nothing", async () => {
    const bus = new LogBus();
    bus.publish({
      type: "log",
      time: 0,
      requestId: "r1",
      app: "a",
      tenant: "t",
      stream: "stdout",
      line: "x",
    });
    const { app } = setup(bus, 15_000, async () => {
      throw new GatewayError("ERR_FORBIDDEN", "another tenant's app");
    });
    for (const path of ["/v1/apps/a/logs?follow", "/v1/apps/a/logs"]) {
      const res = await app.request(path);
      assert.equal(res.status, 403);
      assert.equal(((await res.json()) as any).error.code, "ERR_FORBIDDEN");
    }
    assert.equal(bus.subscribers, 0);
  });

  it("answers the recent records as JSON without follow", async () => {
    const bus = new LogBus();
    bus.publish({
      type: "request",
      time: Date.UTC(2030, 0, 1),
      requestId: "r9",
      app: "a",
      tenant: "t",
      method: "GET",
      path: "/x",
      status: 200,
      ms: 1.5,
    });
    const res = await setup(bus).app.request("/v1/apps/a/logs");
    assert.deepEqual(await res.json(), {
      records: [
        {
          type: "request",
          time: "2030-01-01T00:00:00.000Z",
          requestId: "r9",
          app: "a",
          tenant: "t",
          method: "GET",
          path: "/x",
          status: 200,
          ms: 1.5,
        },
      ],
    });
  });
});
