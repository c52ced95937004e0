// The admin listener: every route under /v1 authenticated, and the scope or role it needs checked
// (auth/access.ts), before the route groups below run; /healthz, /readyz and /metrics are open.

import { Hono } from "hono";
import { MAX_VALUE_BYTES } from "../../kv/index.ts";
import { accessControl } from "../auth/access.ts";
import { bearerAuth } from "../auth/index.ts";
import { GatewayError } from "../errors.ts";
import { onError, requestId } from "../http.ts";
import { type AdminApiDeps, appsRoutes } from "./apps.ts";
import { configRoutes } from "./config.ts";
import { kvRoutes } from "./kv.ts";
import { logsRoutes } from "./logs.ts";
import { opsRoutes } from "./ops.ts";
import { type AdminEnv, mustGetApp } from "./params.ts";
import { tenantsRoutes } from "./tenants.ts";

export type { AdminApiDeps } from "./apps.ts";

export function createAdminApi(deps: AdminApiDeps): Hono<AdminEnv> {
  const { state, auth, logger, invalidate } = deps;
  const app = new Hono<AdminEnv>();
  app.use(requestId());
  app.onError(onError(logger));
  app.notFound(() => {
    throw new GatewayError("ERR_ROUTE_NOT_FOUND", "no such admin API route; the API lives under /v1");
  });

  app.get("/healthz", (c) => c.json({ ok: true }));
  if (deps.ops) app.route("/", opsRoutes(deps.ops));
  app.use("/v1/*", bearerAuth(auth));
  app.use("/v1/*", accessControl(state));

  app.route("/", tenantsRoutes({ state, auth, logger, invalidate }));
  app.route("/", appsRoutes(deps));
  app.route("/", kvRoutes({ state, kv: deps.kv, maxValueBytes: MAX_VALUE_BYTES }));
  app.route("/", configRoutes({ state, box: deps.box, config: deps.config, logger }));
  if (deps.ops) {
    const ops = deps.ops;
    app.route(
      "/",
      logsRoutes({ bus: ops.bus, authorizeApp: async (c) => mustGetApp(state, c.get("appTarget")) }),
    );
  }
  return app;
}
