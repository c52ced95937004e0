// The public listener: the Host header picks the app, the app's active deployment answers.
// Over 400 lines on purpose: the direct listener and the Hono path answer the same requests and
// share the route, body and error handling kept here, which would otherwise be exported to each.

import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";
import { getRequestListener, type HttpBindings } from "@hono/node-server";
import type { Context, MiddlewareHandler } from "hono";
import { Hono } from "hono";
import {
  type DeployedComponent,
  FORWARDED_PEER_HEADER,
  type GuestRequest,
  type GuestResponse,
  HOP_BY_HOP,
  inlineBody,
  type NetworkGrant,
  type Runtime,
  RuntimeError,
  type ServedRequest,
} from "../../runtime/index.ts";
import type { AppConfig } from "../app-config.ts";
import type { Components } from "../components.ts";
import { GatewayError } from "../errors.ts";
import type { GatewayEvents } from "../events.ts";
import { hostOf } from "../hostnames.ts";
import {
  type Env,
  type ErrorLog,
  type ErrorReply,
  newRequestId,
  onError,
  readBody,
  replyForError,
  requestId,
} from "../http.ts";
import { type EffectiveLimits, effectiveLimits, type LimitDefaults } from "../limits.ts";
import { type Logger, requestLogger } from "../logger.ts";
import { type CompiledRoutes, compileRoutes, isSpinRouteHeader, spinRouteHeaders } from "../routes.ts";
import { DEFAULT_TENANT, type DeploymentRecord, type DeploymentRoute, type Route } from "../state/store.ts";
import type { Router } from "./router.ts";

export interface DataPlaneDeps {
  router: Router;
  runtime: Runtime;
  components: Components;
  logger: Logger;
  limits: LimitDefaults;
  config: AppConfig;
  /** Counts every request and feeds the log stream (../ops/index.ts); sees the route once it is known. */
  ops?: RequestObserver;
  /** Told, as warnings, the errors this logs. */
  events?: GatewayEvents;
  /**
   * The guest workers listen on the data port themselves: each host answered here is offered to
   * them (runtime.offerRoute), so its next requests are answered in a worker without this thread.
   */
  offerToWorkers?: boolean;
}

export type DataEnv = { Variables: Env["Variables"] & { route?: Route } };

/** What the data plane tells about a request once the response head is known. */
export interface RequestDone {
  /** Undefined when no app was found for the request. */
  route: Route | undefined;
  requestId: string;
  method: string;
  path: string;
  status: number;
  /** From the start of the request to its response head. */
  ms: number;
}

/** Told about every request the data plane answers. */
export interface RequestObserver {
  /** Middleware on the Hono path: sees each request through and reports it when it is done. */
  observe: MiddlewareHandler<DataEnv>;
  /** The same for a request answered without Hono: `started` first, then `finished` once. */
  started(): void;
  finished(done: RequestDone): void;
}

export interface DataPlane {
  /** Every data plane request, as a Hono app (tests call `app.request()` in-process). */
  app: Hono<DataEnv>;
  /**
   * The listener the gateway's HTTP server runs: it answers a request with no body whose app is
   * already cached without Hono, and passes any other to `app`.
   */
  listener: (req: IncomingMessage, res: ServerResponse) => void;
  /**
   * The listener of the main thread's loopback port, where guest workers that listen themselves
   * pass on what they do not answer: `listener`, trusting the client address such a request names
   * when it carries `secret`.
   */
  fallbackListener(secret: string): (req: IncomingMessage, res: ServerResponse) => void;
  /** Counts and logs a request a worker's own listener answered (`route` is what it was offered with). */
  servedByWorker(route: unknown, served: ServedRequest, logLine: boolean): void;
  /** Takes back every host offered to the workers: after any change to routes, deployments or config. */
  forgetOffers(): void;
}

interface RequestHead {
  method: string;
  pathWithQuery: string;
  /**
   * Whose app this is: the request-target's authority when the target is in absolute form
   * (`GET http://a.example/ HTTP/1.1`: RFC 9112 §3.2.2 says it wins over Host), else Host.
   */
  hostHeader: string | undefined;
  hostCount: number;
  /** The body is sent in chunks (Transfer-Encoding), so its length is not known up front. */
  chunked: boolean;
  contentLength: string | undefined;
  headers: [string, string][];
  /** The client's connection, for Spin's `spin-client-addr` (absent in-process). */
  peer?: { remoteAddress?: string | undefined; remotePort?: number | undefined } | undefined;
  /** The worker listener that passed the request on, and its id there (runtime's InvokeContext). */
  forwardedBy?: { prefix: string; id: number } | undefined;
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

  build(method: string, pathWithQuery: string, authority?: string): RequestHead {
    const { headers, hostCount, chunked, contentLength } = this;
    const hostHeader = authority ?? this.hostHeader;
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
  const method = incoming.method ?? "GET";
  let built: RequestHead;
  if (target.startsWith("/")) built = head.build(method, target);
  else {
    // An absolute-form target (a proxy-style request line) names the host itself, and the Host
    // header is ignored (RFC 9112 §3.2.2); the guest sees that authority too.
    const url = parseUrl(target);
    built =
      !url || (url.protocol !== "http:" && url.protocol !== "https:")
        ? head.build(method, "/")
        : head.build(method, url.pathname + url.search, url.host);
  }
  const forwarded = forwardedPeers.get(incoming);
  built.peer = forwarded ?? incoming.socket;
  built.forwardedBy = forwarded?.by;
  return built;
}

function parseUrl(url: string): URL | undefined {
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}

/** The client of a request a guest worker passed on, as the worker named it. */
const forwardedPeers = new WeakMap<
  IncomingMessage,
  { remoteAddress: string; remotePort: number; by: { prefix: string; id: number } | undefined }
>();

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
  const parsed = parseUrl(url);
  return parsed ? parsed.pathname + parsed.search : "/";
}

function withoutQuery(pathWithQuery: string): string {
  const q = pathWithQuery.indexOf("?");
  return q === -1 ? pathWithQuery : pathWithQuery.slice(0, q);
}

/**
 * Writes a guest's answer (or an error's) to Node's response. The guest's head was checked in the
 * worker (runtime/response-head.ts), which also holds a streamed body to the length it promised;
 * this is the last line behind that. The gateway sets the length of a whole body itself, Node
 * checks a streamed one against its Content-Length, and a body that fails or does not fit ends
 * the connection rather than being followed by bytes a client would read as another response.
 * (Writes to a response whose client has gone are dropped by Node, not thrown.)
 * Returns what was thrown, if anything was: nothing thrown here escapes.
 */
function write(res: ServerResponse, { status, headers, body }: GuestResponse | ErrorReply): unknown {
  try {
    if (body instanceof ReadableStream) {
      // A length on a streamed body is the guest's promise; Node checks it once more.
      res.strictContentLength = headers["content-length"] !== undefined;
      res.writeHead(status, headers);
      res.flushHeaders();
      // A guest that fails mid-stream is logged by the runtime; the client sees the connection end.
      pipeline(Readable.fromWeb(body as NodeReadableStream<Uint8Array>), res).catch(() => res.destroy());
      return undefined;
    }
    if (body !== null) {
      headers["content-length"] = String(
        typeof body === "string" ? Buffer.byteLength(body) : body.byteLength,
      );
    }
    res.writeHead(status, headers);
    res.end(body ?? undefined);
    return undefined;
  } catch (err) {
    if (body instanceof ReadableStream) void body.cancel().catch(() => {});
    return err;
  }
}

function badResponse(requestId: string, logger: ErrorLog): ErrorReply {
  return replyForError(
    new RuntimeError("ERR_GUEST_BAD_RESPONSE", "the guest's response could not be written"),
    requestId,
    logger,
  );
}

/** Logs an error and tells it to the events as a warning (deploy-cli dev shows it under its request). */
function errorLog(logger: Logger, events: GatewayEvents | undefined): ErrorLog {
  if (!events) return logger;
  return {
    error(fields, message) {
      logger.error(fields, message);
      const { code, requestId, app } = fields;
      events.emit("warning", { message, code, requestId, app });
    },
  };
}

export function createDataPlane(deps: DataPlaneDeps): DataPlane {
  const { router, runtime, components, logger, ops } = deps;
  const errors = errorLog(logger, deps.events);
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

  // A deployment stays the same object until the app changes: compile its routes once.
  const routesCache = new WeakMap<DeploymentRecord, CompiledRoutes<DeploymentRoute>>();
  /**
   * The component of `deployment` that answers `head`, and the head it sees: with path routes,
   * the route's component, with Spin's routing headers in place of any the client sent. Throws
   * ERR_PATH_NOT_ROUTED when no route matches.
   */
  function routeWithin(
    deployment: DeploymentRecord,
    head: RequestHead,
  ): { digest: string; head: RequestHead } {
    if (!deployment.routes) return { digest: deployment.digest, head };
    let compiled = routesCache.get(deployment);
    if (!compiled) {
      const made = compileRoutes(deployment.routes.map((r) => ({ route: r.route, target: r })));
      // The admin API refused anything else at deploy.
      if (typeof made === "string") throw new GatewayError("ERR_INTERNAL", made);
      compiled = made;
      routesCache.set(deployment, compiled);
    }
    const match = compiled.match(withoutQuery(head.pathWithQuery));
    if (!match) {
      throw new GatewayError(
        "ERR_PATH_NOT_ROUTED",
        `no route of the app matches ${withoutQuery(head.pathWithQuery)}`,
      );
    }
    const peer = head.peer?.remoteAddress;
    const clientAddr =
      peer === undefined ? "" : `${peer.includes(":") ? `[${peer}]` : peer}:${head.peer?.remotePort ?? 0}`;
    const headers = head.headers.filter(([name]) => !isSpinRouteHeader(name));
    headers.push(
      ...spinRouteHeaders(
        match,
        { scheme: "http", host: head.hostHeader ?? "", pathWithQuery: head.pathWithQuery },
        clientAddr,
      ),
    );
    return { digest: match.target.digest, head: { ...head, headers } };
  }

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
        grants: route.grants,
        network: networkOf(route),
        config,
        forwardedBy: head.forwardedBy,
      },
    );
  }

  const requestLine = requestLogger(logger);
  function logRequest(requestId: string, route: Route, head: RequestHead, status: number, started: number) {
    if (!logger.isLevelEnabled("info")) return;
    const ms = Math.round((performance.now() - started) * 10) / 10;
    requestLine({
      requestId,
      app: route.app,
      method: head.method,
      path: withoutQuery(head.pathWithQuery),
      status,
      ms,
    });
  }

  /** Hosts offered to the workers, with what they were offered with (offered again only on a change). */
  const offered = new Map<string, { route: Route; info: DeployedComponent["info"]; config: unknown }>();
  /**
   * Offers the host of a request just answered to the workers' own listeners, if it is one they
   * can answer (one Host header, an app with one component) and nothing changed while it ran.
   */
  function offer(
    head: RequestHead,
    route: Route,
    digest: string,
    info: DeployedComponent["info"],
    config: readonly (readonly [string, string])[],
  ) {
    if (!deps.offerToWorkers || head.hostCount !== 1 || head.hostHeader === undefined) return;
    const deployment = route.deployment;
    if (!deployment || deployment.routes) return;
    const key = head.hostHeader.toLowerCase();
    const known = offered.get(key);
    if (known && known.route === route && known.info === info && known.config === config) return;
    if (
      router.peek(hostOf(head.hostHeader)) !== route ||
      components.peek(digest) !== info ||
      deps.config.peek({ tenant: route.tenant, name: route.app }) !== config
    ) {
      return;
    }
    if (offered.size >= 10_000) offered.clear();
    offered.set(key, { route, info, config });
    const limits = limitsOf(route);
    runtime.offerRoute(
      key,
      { digest, info },
      limits.guest,
      { app: route.app, tenant: route.tenant, grants: route.grants, network: networkOf(route), config },
      limits.maxBodyBytes,
      route,
    );
  }

  const app = new Hono<DataEnv>();
  // Guest responses already carry the request id (the runtime adds it); errors add it themselves.
  app.use(requestId({ setHeader: false }));
  if (ops) app.use(ops.observe);
  app.onError(onError(errors));

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
    const target = routeWithin(deployment, head);
    const info = await components.ensure(target.digest);
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
    const config = await deps.config.get({ tenant: route.tenant, name: route.app });
    const {
      status,
      headers,
      body: out,
    } = await invoke(route, { digest: target.digest, info }, config, target.head, body, requestId);
    logRequest(requestId, route, head, status, started);
    offer(head, route, target.digest, info, config);
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
    let target: { digest: string; head: RequestHead };
    try {
      target = routeWithin(deployment, head);
    } catch {
      return false;
    }
    const info = components.peek(target.digest);
    const config = deps.config.peek({ tenant: route.tenant, name: route.app });
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
    const send = (answer: GuestResponse | ErrorReply) => {
      const failed = write(res, answer);
      if (failed === undefined || res.destroyed) return done(answer.status);
      // Nothing a guest answers should get here (the worker checked it): answer 502 if the head
      // is not out yet, else end the connection.
      errors.error({ requestId, app: route.app, err: failed }, "could not write the guest's response");
      if (res.headersSent || write(res, badResponse(requestId, errors)) !== undefined) res.destroy();
      done(502);
    };
    invoke(route, { digest: target.digest, info }, config, target.head, undefined, requestId)
      .then(
        (answer) => {
          send(answer);
          offer(head, route, target.digest, info, config);
        },
        (err: unknown) => send(replyForError(err, requestId, errors)),
      )
      .catch((err: unknown) => {
        errors.error({ requestId, err }, "unexpected error while answering a request");
        res.destroy();
      });
    return true;
  }

  const viaHono = getRequestListener(app.fetch);
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    try {
      const head = headOfIncoming(req);
      if (answerDirectly(head, res)) return;
      readHeads.set(req, head);
      viaHono(req, res).catch((err: unknown) => {
        errors.error({ err }, "unexpected error while answering a request");
        res.destroy();
      });
    } catch (err) {
      errors.error({ err }, "unexpected error while answering a request");
      res.destroy();
    }
  };
  return {
    app,
    listener,
    fallbackListener(secret) {
      return (req, res) => {
        const raw = req.rawHeaders;
        for (let i = 0; i + 1 < raw.length; i += 2) {
          if (raw[i]!.toLowerCase() !== FORWARDED_PEER_HEADER) continue;
          const [given, address, port, prefix, id] = raw[i + 1]!.split(" ");
          if (given === secret && address !== undefined) {
            const by = prefix && Number.isSafeInteger(Number(id)) ? { prefix, id: Number(id) } : undefined;
            forwardedPeers.set(req, { remoteAddress: address, remotePort: Number(port) || 0, by });
          }
          // Never seen by Hono or a guest, whoever sent it.
          raw.splice(i, 2);
          i -= 2;
        }
        delete req.headers[FORWARDED_PEER_HEADER];
        listener(req, res);
      };
    },
    servedByWorker(tag, { requestId, method, path, status, ms }, logLine) {
      const route = tag as Route;
      if (logLine && logger.isLevelEnabled("info")) {
        requestLine({ requestId, app: route.app, method, path, status, ms: Math.round(ms * 10) / 10 });
      }
      ops?.started();
      ops?.finished({ route, requestId, method, path, status, ms });
    },
    forgetOffers() {
      if (!deps.offerToWorkers) return;
      offered.clear();
      runtime.resetRoutes();
    },
  };
}
