// GET /v1/apps/:app/logs: the app's live log as Server-Sent Events (`?follow`, or Accept:
// text/event-stream), otherwise its recent records as JSON. Who may read which app is decided by
// `authorizeApp`, the one place tenant rules apply; records are those of the app's own tenant.

import { type Context, Hono } from "hono";
import { streamSSE } from "hono/streaming";
import type { DroppedNotice, LogBus, LogRecord, OutputRecord, RequestRecord } from "../ops/log-bus.ts";
import type { AppRecord } from "../state/store.ts";
import type { AdminEnv } from "./params.ts";

/** Resolves the app the caller may use in this way, or throws (ERR_APP_NOT_FOUND, ERR_FORBIDDEN). */
export type AuthorizeApp = (c: Context, app: string, scope: "logs:read") => Promise<AppRecord>;

export interface LogsApiDeps {
  bus: LogBus;
  authorizeApp: AuthorizeApp;
  /** Comment lines keep proxies and load balancers from closing a quiet stream. */
  heartbeatMs?: number;
}

const HEARTBEAT_MS = 15_000;

/** A record as clients see it (SSE data, JSON, `deploy-cli logs --json`): the time as ISO text. */
export type LogRecordView =
  | (Omit<RequestRecord, "time"> & { time: string })
  | (Omit<OutputRecord, "time"> & { time: string })
  | DroppedNotice;

export function recordView(record: LogRecord | DroppedNotice): LogRecordView {
  return record.type === "dropped" ? record : { ...record, time: new Date(record.time).toISOString() };
}

export function logsRoutes(deps: LogsApiDeps): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  const { bus } = deps;
  app.get("/v1/apps/:app/logs", async (c) => {
    const record = await deps.authorizeApp(c, c.req.param("app"), "logs:read");
    const follow =
      c.req.query("follow") !== undefined || (c.req.header("accept") ?? "").includes("text/event-stream");
    if (!follow) return c.json({ records: bus.recent(record.name, record.tenant).map(recordView) });

    return streamSSE(c, async (stream) => {
      const subscription = bus.subscribe(record.name, record.tenant);
      stream.onAbort(() => subscription.close());
      const heartbeat = setInterval(
        () => void stream.write(": keep-alive\n\n"),
        deps.heartbeatMs ?? HEARTBEAT_MS,
      );
      try {
        // Sent at once, so the client knows the stream is open before the first record.
        await stream.write(": following\n\n");
        for (;;) {
          const next = await subscription.next();
          if (!next || stream.aborted) break;
          await stream.writeSSE({ event: next.type, data: JSON.stringify(recordView(next)) });
        }
      } finally {
        clearInterval(heartbeat);
        subscription.close();
      }
    });
  });
  return app;
}
