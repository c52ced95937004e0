// The open operations endpoints of the admin listener: readiness and Prometheus metrics. Scrapers
// and probes carry no token, so neither says anything about apps beyond their names in labels.

import { Hono } from "hono";
import { GATEWAY_ERRORS } from "../errors.ts";
import type { Ops } from "../ops/index.ts";
import { METRICS_CONTENT_TYPE } from "../ops/metrics.ts";
import type { AdminEnv } from "./params.ts";

export function opsRoutes(ops: Ops): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  app.get("/readyz", async (c) => {
    const { ready, checks } = await ops.readiness();
    if (ready) return c.json({ ready, checks });
    const failed = Object.entries(checks)
      .filter(([, check]) => !check.ok)
      .map(([name, check]) => `${name}: ${check.error}`);
    return c.json(
      {
        ready,
        checks,
        error: {
          code: "ERR_NOT_READY",
          message: `not ready (${failed.join("; ")})`,
          requestId: c.get("requestId"),
        },
      },
      GATEWAY_ERRORS.ERR_NOT_READY,
    );
  });

  app.get("/metrics", (c) => c.body(ops.metrics(), 200, { "content-type": METRICS_CONTENT_TYPE }));
  return app;
}
