// The public listener: the Host header picks the app, the app's active deployment answers.

import type { HttpBindings } from "@hono/node-server";
import type { Context, MiddlewareHandler } from "hono";
import { Hono } from "hono";
import { type GuestRequest, HOP_BY_HOP, inlineBody, type Runtime } from "../runtime/index.ts";
import type { AppConfig } from "./app-config.ts";
import type { Components } from "./components.ts";
import { GatewayError } from "./errors.ts";
import { hostOf } from "./hostnames.ts";
import { type Env, onError, readBody, requestId } from "./http.ts";
import { type EffectiveLimits, effectiveLimits, type LimitDefaults } from "./limits.ts";
import type { Logger } from "./logger.ts";
import type { Router } from "./router.ts";
import type { Route } from "./state/store.ts";

export interface DataPlaneDeps {
  router: Router;
  runtime: Runtime;
  components: Components;
  logger: Logger;
  limits: LimitDefaults;
  config: AppConfig;
  /** Runs around every request (metrics, log stream); sees the route once it is known. */
  observe?: MiddlewareHandler<DataEnv>;
}

export type DataEnv = { Variables: Env["Variables"] & { route?: Route } };

interface RequestHead {
  method: string;
  pathWithQuery: string;
  hostHeader: string | undefined;
  hostCount: number;
  /** The body is sent in chunks (Transfer-Encoding), so its length is not known up front. */
  chunked: boolean;
  headers: [string, string][];
}

/**
 * Method, target and headers, read from Node's request when there is one: building the web
 * Request (and its Headers) for every request costs more than the rest of routing.
 */
function requestHead(c: Context): RequestHead {
  const incoming = (c.env as Partial<HttpBindings> | undefined)?.incoming;
  const headers: [string, string][] = [];
  let hostHeader: string | undefined;
  let hostCount = 0;
  let chunked = false;
  const add = (rawName: string, value: string) => {
    const name = rawName.toLowerCase();
    if (name === "transfer-encoding") chunked = true;
    if (name === "host") {
      hostCount++;
      hostHeader ??= value;
    }
    if (!HOP_BY_HOP.has(name)) headers.push([name, value]);
  };
  if (incoming) {
    const raw = incoming.rawHeaders;
    for (let i = 0; i + 1 < raw.length; i += 2) add(raw[i]!, raw[i + 1]!);
    const target = incoming.url ?? "/";
    // Absolute-form targets (a proxy-style request line) carry scheme and host too.
    const pathWithQuery = target.startsWith("/") ? target : pathOf(target);
    return { method: incoming.method ?? "GET", pathWithQuery, hostHeader, hostCount, chunked, headers };
  }
  const req = c.req.raw;
  for (const [name, value] of req.headers) add(name, value);
  return { method: req.method, pathWithQuery: pathOf(req.url), hostHeader, hostCount, chunked, headers };
}

function pathOf(url: string): string {
  try {
    const parsed = new URL(url);
    return parsed.pathname + parsed.search;
  } catch {
    return "/";
  }
}

function headerValue(headers: [string, string][], name: string): string | undefined {
  for (const [n, v] of headers) if (n === name) return v;
  return undefined;
}

export function createDataPlane(deps: DataPlaneDeps): Hono<DataEnv> {
  const { router, runtime, components, logger } = deps;
  // A route stays the same object until its app changes: work its limits out once.
  const limitsCache = new WeakMap<Route, EffectiveLimits>();
  const limitsOf = (route: Route): EffectiveLimits => {
    let limits = limitsCache.get(route);
    if (!limits) {
      limits = effectiveLimits(route.limits, deps.limits);
      limitsCache.set(route, limits);
    }
    return limits;
  };
  const app = new Hono<DataEnv>();
  // Guest responses already carry the request id (the runtime adds it); errors add it themselves.
  app.use(requestId({ setHeader: false }));
  if (deps.observe) app.use(deps.observe);
  app.onError(onError(logger));

  app.all("*", async (c) => {
    const started = performance.now();
    const { method, pathWithQuery, hostHeader, hostCount, chunked, headers } = requestHead(c);
    // Repeated Host headers: RFC 9112 wants the request refused.
    if (hostCount > 1) throw new GatewayError("ERR_BAD_REQUEST", "the request has more than one Host header");
    const host = hostOf(hostHeader);
    const route = await router.lookup(host);
    if (!route) throw new GatewayError("ERR_HOST_NOT_FOUND", `no app serves the host "${host}"`);
    c.set("route", route);
    const deployment = route.deployment;
    if (!deployment) {
      throw new GatewayError("ERR_APP_NOT_DEPLOYED", `the app ${route.app} has no deployment yet`);
    }
    const info = await components.ensure(deployment.digest);
    const limits = limitsOf(route);
    const tooLarge = (limit: number) =>
      new GatewayError("ERR_BODY_TOO_LARGE", `the request body is larger than the limit of ${limit} bytes`);
    const length = headerValue(headers, "content-length");
    const declared = length !== undefined ? Number(length) : undefined;
    if (declared !== undefined && declared > limits.maxBodyBytes) throw tooLarge(limits.maxBodyBytes);
    // Small bodies travel in one message; larger or unsized ones stream as the guest reads them.
    let body: GuestRequest["body"];
    const hasBody = declared !== undefined ? declared > 0 : chunked;
    if (!hasBody || !c.req.raw.body) body = undefined;
    else if (inlineBody(declared)) body = await readBody(c.req.raw, limits.maxBodyBytes, tooLarge);
    else body = c.req.raw.body;
    const requestId = c.get("requestId");
    const res = await runtime.invoke(
      { digest: deployment.digest, info },
      {
        method,
        pathWithQuery,
        scheme: "http",
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
    if (logger.isLevelEnabled("info")) {
      const ms = Math.round((performance.now() - started) * 10) / 10;
      logger.info(
        { requestId, app: route.app, method, path: pathWithQuery.split("?")[0], status: res.status, ms },
        "request",
      );
    }
    return res;
  });
  return app;
}
