// The public listener: the Host header picks the app, the app's active deployment answers.

import { Hono } from "hono";
import { type GuestRequest, inlineBody, type Runtime } from "../runtime/index.ts";
import type { AppConfig } from "./app-config.ts";
import type { Components } from "./components.ts";
import { GatewayError } from "./errors.ts";
import { hostOf } from "./hostnames.ts";
import { type Env, onError, readBody, requestId } from "./http.ts";
import { effectiveLimits, type LimitDefaults } from "./limits.ts";
import type { Logger } from "./logger.ts";
import type { Router } from "./router.ts";

export interface DataPlaneDeps {
  router: Router;
  runtime: Runtime;
  components: Components;
  logger: Logger;
  limits: LimitDefaults;
  config: AppConfig;
}

// Connection-level headers are not the guest's business (and wasi:http forbids them).
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "te",
]);

export function createDataPlane(deps: DataPlaneDeps): Hono<Env> {
  const { router, runtime, components, logger } = deps;
  const app = new Hono<Env>();
  app.use(requestId());
  app.onError(onError(logger));

  app.all("*", async (c) => {
    const started = performance.now();
    const hostHeader = c.req.header("host");
    const host = hostOf(hostHeader);
    const route = await router.lookup(host);
    if (!route) throw new GatewayError("ERR_HOST_NOT_FOUND", `no app serves the host "${host}"`);
    const deployment = route.deployment;
    if (!deployment) {
      throw new GatewayError("ERR_APP_NOT_DEPLOYED", `the app ${route.app} has no deployment yet`);
    }
    const info = await components.ensure(deployment.digest);
    const req = c.req.raw;
    const limits = effectiveLimits(route.limits, deps.limits);
    const tooLarge = (limit: number) =>
      new GatewayError("ERR_BODY_TOO_LARGE", `the request body is larger than the limit of ${limit} bytes`);
    const declared = req.headers.has("content-length")
      ? Number(req.headers.get("content-length"))
      : undefined;
    if (declared !== undefined && declared > limits.maxBodyBytes) throw tooLarge(limits.maxBodyBytes);
    // Small bodies travel in one message; larger or unsized ones stream as the guest reads them.
    let body: GuestRequest["body"];
    if (!req.body || declared === 0) body = undefined;
    else if (inlineBody(declared)) body = await readBody(req, limits.maxBodyBytes, tooLarge);
    else body = req.body;
    const url = new URL(req.url);
    const headers: [string, string][] = [];
    for (const [name, value] of req.headers) if (!HOP_BY_HOP.has(name)) headers.push([name, value]);
    const requestId = c.get("requestId");
    const res = await runtime.invoke(
      { digest: deployment.digest, info },
      {
        method: req.method,
        pathWithQuery: url.pathname + url.search,
        scheme: url.protocol === "https:" ? "https" : "http",
        authority: hostHeader ?? host,
        headers,
        body,
        maxBodyBytes: limits.maxBodyBytes,
      },
      limits.guest,
      {
        requestId,
        app: route.app,
        tenant: route.tenant,
        buckets: route.buckets,
        allowedOutboundHosts: route.allowedOutboundHosts,
        // Read per request (cached until a change), so a new value needs no redeploy.
        config: await deps.config.get(route.app),
      },
    );
    logger.info(
      {
        requestId,
        app: route.app,
        method: req.method,
        path: url.pathname,
        status: res.status,
        ms: Math.round((performance.now() - started) * 10) / 10,
      },
      "request",
    );
    return res;
  });
  return app;
}
