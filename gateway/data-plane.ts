// The public listener: the Host header picks the app, the app's active deployment answers.

import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";
import { getRequestListener, type HttpBindings } from "@hono/node-server";
import type { Context } from "hono";
import { Hono } from "hono";
import {
  type DeployedComponent,
  type GuestRequest,
  type GuestResponse,
  HOP_BY_HOP,
  inlineBody,
  type NetworkGrant,
  type Runtime,
} from "../runtime/index.ts";
import type { AppConfig } from "./app-config.ts";
import type { Components } from "./components.ts";
import { GatewayError } from "./errors.ts";
import { hostOf } from "./hostnames.ts";
import {
  type Env,
  type ErrorReply,
  newRequestId,
  onError,
  readBody,
  replyForError,
  requestId,
} from "./http.ts";
import { type EffectiveLimits, effectiveLimits, type LimitDefaults } from "./limits.ts";
import type { Logger } from "./logger.ts";
import type { Ops } from "./ops.ts";
import type { Router } from "./router.ts";
import { DEFAULT_TENANT, type Route } from "./state/store.ts";

export interface DataPlaneDeps {
  router: Router;
  runtime: Runtime;
  components: Components;
  logger: Logger;
  limits: LimitDefaults;
  config: AppConfig;
  /** Counts every request and feeds the log stream; sees the route once it is known. */
  ops?: Pick<Ops, "observe" | "started" | "finished">;
}

export type DataEnv = { Variables: Env["Variables"] & { route?: Route } };

export interface DataPlane {
  /** Every data plane request, as a Hono app (tests call `app.request()` in-process). */
  app: Hono<DataEnv>;
  /**
   * The listener the gateway's HTTP server runs: it answers a request with no body whose app is
   * already cached without Hono, and passes any other to `app`.
   */
  listener: (req: IncomingMessage, res: ServerResponse) => void;
}

interface RequestHead {
  method: string;
  pathWithQuery: string;
  hostHeader: string | undefined;
  hostCount: number;
  /** The body is sent in chunks (Transfer-Encoding), so its length is not known up front. */
  chunked: boolean;
  contentLength: string | undefined;
  headers: [string, string][];
}

class HeadBuilder {
  readonly headers: [string, string][] = [];
  hostHeader: string | undefined;
  hostCount = 0;
  chunked = false;
  contentLength: string | undefined;

  add(rawName: string, value: string): void {
    const name = rawName.toLowerCase();
    if (name === "transfer-encoding") this.chunked = true;
    else if (name === "content-length") this.contentLength ??= value;
    else if (name === "host") {
      this.hostCount++;
      this.hostHeader ??= value;
    }
    if (!HOP_BY_HOP.has(name)) this.headers.push([name, value]);
  }

  build(method: string, pathWithQuery: string): RequestHead {
    const { headers, hostHeader, hostCount, chunked, contentLength } = this;
    return { method, pathWithQuery, hostHeader, hostCount, chunked, contentLength, headers };
  }
}

/**
 * Method, target and headers, read from Node's request: building the web Request (and its
 * Headers) for every request costs more than the rest of routing.
 */
function headOfIncoming(incoming: IncomingMessage): RequestHead {
  const head = new HeadBuilder();
  const raw = incoming.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) head.add(raw[i]!, raw[i + 1]!);
  const target = incoming.url ?? "/";
  // Absolute-form targets (a proxy-style request line) carry scheme and host too.
  return head.build(incoming.method ?? "GET", target.startsWith("/") ? target : pathOf(target));
}

/** Heads the listener read before passing the request to Hono, so Hono does not read them again. */
const readHeads = new WeakMap<IncomingMessage, RequestHead>();

function requestHead(c: Context): RequestHead {
  const incoming = (c.env as Partial<HttpBindings> | undefined)?.incoming;
  if (incoming) return readHeads.get(incoming) ?? headOfIncoming(incoming);
  const req = c.req.raw;
  const head = new HeadBuilder();
  for (const [name, value] of req.headers) head.add(name, value);
  return head.build(req.method, pathOf(req.url));
}

function pathOf(url: string): string {
  try {
    const parsed = new URL(url);
    return parsed.pathname + parsed.search;
  } catch {
    return "/";
  }
}

function withoutQuery(pathWithQuery: string): string {
  const q = pathWithQuery.indexOf("?");
  return q === -1 ? pathWithQuery : pathWithQuery.slice(0, q);
}

/** Writes a guest's answer (or an error's) to Node's response. */
function write(res: ServerResponse, { status, headers, body }: GuestResponse | ErrorReply): void {
  if (body instanceof ReadableStream) {
    res.writeHead(status, headers);
    res.flushHeaders();
    // A guest that fails mid-stream is logged by the runtime; the client sees the connection end.
    pipeline(Readable.fromWeb(body as NodeReadableStream<Uint8Array>), res).catch(() => res.destroy());
    return;
  }
  if (body !== null && headers["content-length"] === undefined) {
    headers["content-length"] = String(typeof body === "string" ? Buffer.byteLength(body) : body.byteLength);
  }
  res.writeHead(status, headers);
  res.end(body ?? undefined);
}

export function createDataPlane(deps: DataPlaneDeps): DataPlane {
  const { router, runtime, components, logger, ops } = deps;
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

  // Network policy is the operator's: a tenant's apps reach special addresses only in the ranges
  // opened to the tenant. The built-in default tenant is for local development: its allow-list
  // may name such addresses itself, and its apps may call sibling apps on the data port.
  const networkCache = new WeakMap<Route, NetworkGrant>();
  const networkOf = (route: Route): NetworkGrant => {
    let network = networkCache.get(route);
    if (!network) {
      network = Object.freeze({
        allowPrivateNetwork: route.allowPrivateNetwork,
        trustAllowList: route.tenant === DEFAULT_TENANT,
      });
      networkCache.set(route, network);
    }
    return network;
  };

  /** Runs a request in its app's guest. */
  function invoke(
    route: Route,
    component: DeployedComponent,
    config: readonly (readonly [string, string])[],
    head: RequestHead,
    body: GuestRequest["body"],
    requestId: string,
  ): Promise<GuestResponse> {
    const limits = limitsOf(route);
    return runtime.invoke(
      component,
      {
        method: head.method,
        pathWithQuery: head.pathWithQuery,
        scheme: "http",
        authority: head.hostHeader ?? "",
        headers: head.headers,
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
        network: networkOf(route),
        config,
      },
    );
  }

  function logRequest(requestId: string, route: Route, head: RequestHead, status: number, started: number) {
    if (!logger.isLevelEnabled("info")) return;
    const ms = Math.round((performance.now() - started) * 10) / 10;
    const { method } = head;
    logger.info(
      { requestId, app: route.app, method, path: withoutQuery(head.pathWithQuery), status, ms },
      "request",
    );
  }

  const app = new Hono<DataEnv>();
  // Guest responses already carry the request id (the runtime adds it); errors add it themselves.
  app.use(requestId({ setHeader: false }));
  if (ops) app.use(ops.observe);
  app.onError(onError(logger));

  app.all("*", async (c) => {
    const started = performance.now();
    const head = requestHead(c);
    // Repeated Host headers: RFC 9112 wants the request refused.
    if (head.hostCount > 1) {
      throw new GatewayError("ERR_BAD_REQUEST", "the request has more than one Host header");
    }
    const host = hostOf(head.hostHeader);
    const route = await router.lookup(host);
    if (!route) throw new GatewayError("ERR_HOST_NOT_FOUND", `no app serves the host "${host}"`);
    c.set("route", route);
    const deployment = route.deployment;
    if (!deployment) {
      throw new GatewayError("ERR_APP_NOT_DEPLOYED", `the app ${route.app} has no deployment yet`);
    }
    const info = await components.ensure(deployment.digest);
    const { maxBodyBytes } = limitsOf(route);
    const tooLarge = (limit: number) =>
      new GatewayError("ERR_BODY_TOO_LARGE", `the request body is larger than the limit of ${limit} bytes`);
    const declared = head.contentLength !== undefined ? Number(head.contentLength) : undefined;
    if (declared !== undefined && declared > maxBodyBytes) throw tooLarge(maxBodyBytes);
    // Small bodies travel in one message; larger or unsized ones stream as the guest reads them.
    let body: GuestRequest["body"];
    const hasBody = declared !== undefined ? declared > 0 : head.chunked;
    if (!hasBody || !c.req.raw.body) body = undefined;
    else if (inlineBody(declared)) body = await readBody(c.req.raw, maxBodyBytes, tooLarge);
    else body = c.req.raw.body;
    const requestId = c.get("requestId");
    // Read per request (cached until a change), so a new value needs no redeploy.
    const config = await deps.config.get(route.app);
    const {
      status,
      headers,
      body: out,
    } = await invoke(route, { digest: deployment.digest, info }, config, head, body, requestId);
    logRequest(requestId, route, head, status, started);
    return new Response(out, { status, headers: headers as unknown as HeadersInit });
  });

  /**
   * Answers a request without Hono when nothing about it has to be waited for: it has no body, one
   * Host header, and its route, component and config are cached. Returns false to leave it to Hono.
   * Through the whole gateway this path saves about a fifth of the main thread's work per request.
   */
  function answerDirectly(head: RequestHead, res: ServerResponse): boolean {
    if (head.hostCount !== 1 || head.chunked) return false;
    if (head.contentLength !== undefined && Number(head.contentLength) !== 0) return false;
    const route = router.peek(hostOf(head.hostHeader));
    const deployment = route?.deployment;
    if (!route || !deployment) return false;
    const info = components.peek(deployment.digest);
    const config = deps.config.peek(route.app);
    if (!info || !config) return false;
    const started = performance.now();
    const requestId = newRequestId();
    ops?.started();
    const done = (status: number) => {
      logRequest(requestId, route, head, status, started);
      ops?.finished({
        route,
        requestId,
        method: head.method,
        path: withoutQuery(head.pathWithQuery),
        status,
        ms: performance.now() - started,
      });
    };
    invoke(route, { digest: deployment.digest, info }, config, head, undefined, requestId).then(
      (answer) => {
        done(answer.status);
        write(res, answer);
      },
      (err: unknown) => {
        const reply = replyForError(err, requestId, logger);
        done(reply.status);
        write(res, reply);
      },
    );
    return true;
  }

  const viaHono = getRequestListener(app.fetch);
  return {
    app,
    listener(req, res) {
      const head = headOfIncoming(req);
      if (answerDirectly(head, res)) return;
      readHeads.set(req, head);
      void viaHono(req, res);
    },
  };
}
