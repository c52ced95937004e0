// A guest worker's own listener on the data port, when the gateway listens in its workers: every
// worker opens the port with SO_REUSEPORT and the kernel spreads new connections over them. A
// request whose host the main thread offered (an app with one component, its variables cached)
// and that has no body, or a small one with a length, runs here and is answered here: no thread
// hop. Anything else (an unknown host, a streamed or large body, an absolute-form target, two Host
// headers) goes to the main thread's listener over loopback and comes back as it answers.
// Over 400 lines on purpose: the local answers, the hand-on to the main thread and the in-flight
// table the watchdog reads all act on the same requests.

import { write } from "node:fs";
import {
  Agent,
  createServer,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from "node:http";
import { HOP_BY_HOP } from "../capabilities/wasi/index.ts";
import { RuntimeError, type RuntimeErrorCode } from "../errors.ts";
import { INLINE_BODY_MAX } from "../limits.ts";
import {
  FORWARDED_PEER_HEADER,
  FRONT_ANSWERING,
  FRONT_ENTRY,
  FRONT_SLOTS,
  FRONT_WAITING,
  type FromWorker,
  type FrontConfig,
  type FrontRoute,
  NULL_BODY_STATUS,
  type ServedRecord,
  type WireHeaders,
  type WireRequest,
} from "../protocol.ts";
import { numberedRequestId, requestIdPrefix, requestLineText } from "../request-line.ts";
import { deployments } from "./app-pool.ts";
import { beforeGuestRuns, post, receiveLocally } from "./env.ts";
import { type Context, invoke, openContext, running } from "./invoke.ts";

/** A route as this worker keeps it: with the context its requests run in. */
interface LocalRoute extends FrontRoute {
  context: Context;
  /** Requests of the app in flight here; past `bound`, 503 at once. */
  inFlight: number;
  bound: number;
}

/** One request answered here. */
interface Local {
  id: number;
  route: LocalRoute;
  requestId: string;
  res: ServerResponse;
  method: string;
  path: string;
  started: number;
  /** The request's entry in the in-flight table. */
  entry: number;
  deadline: NodeJS.Timeout;
  /** The head went out (or an error answer did): later messages about it only end it. */
  answered: boolean;
  done: boolean;
}

/** Every response carries the request id the gateway's log uses (as runtime/host/pool.ts adds it). */
const REQUEST_ID_HEADER = "x-request-id";
/** Passed-on requests beyond this many at once wait for a connection to the main thread. */
const FALLBACK_SOCKETS = 256;
/** Request lines are written in pieces no larger than a pipe writes whole (PIPE_BUF). */
const LOG_PIECE_BYTES = 4096;
const LOG_FLUSH_MS = 25;
const SERVED_FLUSH_MS = 10;
const SERVED_BATCH_MAX = 1024;
/** Hosts kept; past this many the table starts over (each host's next request re-offers it). */
const MAX_ROUTES = 10_000;
/** Response headers of the main thread's answer that belong to that connection, not the client's. */
const HOP_RESPONSE = new Set(["connection", "keep-alive", "transfer-encoding"]);

let config: FrontConfig | undefined;
let server: Server | undefined;
let agent: Agent | undefined;
const routes = new Map<string, LocalRoute>();
const locals = new Map<number, Local>();
const prefix = requestIdPrefix();
let counter = 0;
let table: Int32Array | undefined;
const freeEntries: number[] = [];

export function configure(front: FrontConfig): void {
  config = front;
  table = new Int32Array(front.inFlight);
  freeEntries.length = 0;
  for (let i = FRONT_SLOTS - 1; i >= 0; i--) freeEntries.push(i);
  agent = new Agent({ keepAlive: true, maxSockets: FALLBACK_SOCKETS });
  receiveLocally(receive);
  beforeGuestRuns(flushHeld);
}

export function listen(): void {
  if (!config || server) return;
  const front = config;
  server = createServer(onRequest);
  server.keepAliveTimeout = 5_000;
  server.listen({ port: front.port, host: front.host, reusePort: true }, () => {
    post({ type: "listening", prefix });
  });
  server.on("error", (err) => {
    post({
      type: "front-warning",
      route: 0,
      requestId: "",
      code: undefined,
      message: `the worker could not listen: ${err.message}`,
    });
  });
}

export function unlisten(): void {
  const closing = server;
  server = undefined;
  if (!closing) {
    post({ type: "unlistened" });
    return;
  }
  // As gateway/data-plane/drain.ts: idle keep-alive connections are closed until none is left.
  closing.close(() => {
    clearInterval(sweep);
    post({ type: "unlistened" });
  });
  closing.closeIdleConnections();
  const sweep = setInterval(() => closing.closeIdleConnections(), 50);
}

export function addRoute(host: string, route: FrontRoute): void {
  if (!config) return;
  if (routes.size >= MAX_ROUTES) routes.clear();
  if (!deployments.has(route.deployment.key)) deployments.set(route.deployment.key, route.deployment);
  const limits = route.limits;
  routes.set(host, {
    ...route,
    context: openContext(limits, route.access),
    inFlight: 0,
    bound: limits.maxInstances + config.maxQueuedPerApp,
  });
}

export function resetRoutes(): void {
  routes.clear();
}

/** A deployment was evicted: hosts it served go to the main thread again. */
export function forgetDeployment(key: string): void {
  for (const [host, route] of routes) if (route.deployment.key === key) routes.delete(host);
}

function onRequest(req: IncomingMessage, res: ServerResponse): void {
  try {
    if (!answerHere(req, res)) forward(req, res);
  } catch {
    res.destroy();
  }
}

/** Runs the request here if it is the simple case; false to pass it on. */
function answerHere(req: IncomingMessage, res: ServerResponse): boolean {
  const target = req.url ?? "/";
  if (target.charCodeAt(0) !== 47 /* "/" */) return false;
  const raw = req.rawHeaders;
  const headers: [string, string][] = [];
  let host: string | undefined;
  let hosts = 0;
  let length: string | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    if (name === "host") {
      hosts++;
      host = value;
    } else if (name === "transfer-encoding") return false;
    else if (name === "content-length") {
      if (length !== undefined) return false;
      length = value;
    }
    if (!HOP_BY_HOP.has(name)) headers.push([name, value]);
  }
  if (hosts !== 1 || host === undefined) return false;
  const route = routes.get(host.toLowerCase());
  if (!route) return false;
  let size = 0;
  if (length !== undefined) {
    size = Number(length);
    if (!Number.isSafeInteger(size) || size < 0 || size > INLINE_BODY_MAX || size > route.maxBodyBytes)
      return false;
  }
  const entry = freeEntries.pop() ?? -1;
  if (entry === -1) {
    // The in-flight table is full: the main thread answers, so a kill cannot lose the request.
    return false;
  }
  const started = performance.now();
  counter = (counter + 1) % 2 ** 31;
  const id = -counter;
  const requestId = numberedRequestId(prefix, counter);
  const q = target.indexOf("?");
  const local: Local = {
    id,
    route,
    requestId,
    res,
    method: req.method ?? "GET",
    path: q === -1 ? target : target.slice(0, q),
    started,
    entry,
    deadline: setTimeout(onDeadline, route.limits.deadlineMs, id),
    answered: false,
    done: false,
  };
  locals.set(id, local);
  const fd = (req.socket as unknown as { _handle?: { fd?: number } })._handle?.fd ?? -1;
  const at = entry * FRONT_ENTRY;
  table![at + 1] = fd;
  table![at + 2] = FRONT_WAITING;
  Atomics.store(table!, at, id);
  res.on("close", () => {
    // The client went away before the answer was out: stop the guest rather than let it write into the void.
    if (!local.done) running.get(id)?.cancel("the client closed the connection");
    release(local);
  });
  const request: WireRequest = {
    method: local.method,
    pathWithQuery: target,
    scheme: "http",
    authority: host,
    headers,
    body: undefined,
  };
  const over = route.inFlight >= route.bound;
  route.inFlight++;
  if (over) {
    answerError(
      local,
      "ERR_RUNTIME_OVERLOADED",
      `the app ${route.access.app} has ${route.bound} requests in flight, as many as it may; retry after a second`,
    );
    return true;
  }
  if (size === 0) {
    req.resume();
    void invoke(id, route.deployment.key, request, route.context);
    return true;
  }
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    if (local.done) return;
    const body = Buffer.concat(chunks);
    request.body = body.byteLength === 0 ? undefined : new Uint8Array(body);
    void invoke(id, route.deployment.key, request, route.context);
  });
  req.on("error", () => release(local));
  return true;
}

/** What the worker's own requests get: the answers and stops runtime/worker/invoke.ts sends. */
function receive(msg: FromWorker): void {
  if (!("id" in msg)) return;
  const local = locals.get(msg.id);
  if (!local) return;
  const { res } = local;
  switch (msg.type) {
    case "response": {
      if (local.answered) return;
      const headers = msg.headers;
      headers[REQUEST_ID_HEADER] = local.requestId;
      const body = NULL_BODY_STATUS.has(msg.status) ? null : msg.body;
      if (body !== null) headers["content-length"] = String(body.byteLength);
      hold(() => {
        // Answered meanwhile (its deadline passed, its client went away).
        if (local.done) return;
        written(local, msg.status, () => {
          res.writeHead(msg.status, headers);
          res.end(body ?? undefined);
        });
        release(local);
      });
      break;
    }
    case "head": {
      if (local.answered) return;
      const headers = msg.headers;
      headers[REQUEST_ID_HEADER] = local.requestId;
      written(local, msg.status, () => {
        // A length on a streamed body is the guest's promise; Node checks it once more.
        res.strictContentLength = headers["content-length"] !== undefined;
        res.writeHead(msg.status, headers);
        res.flushHeaders();
      });
      break;
    }
    case "chunk": {
      if (res.destroyed) return;
      const bytes = msg.data.byteLength;
      const ack = () => running.get(local.id)?.sink.ack(bytes);
      try {
        if (res.write(msg.data)) ack();
        else res.once("drain", ack);
      } catch {
        res.destroy();
      }
      break;
    }
    case "end":
      try {
        res.end();
      } catch {
        res.destroy();
      }
      release(local);
      break;
    case "abort":
      warn(local, msg.code, `response aborted: ${msg.message}`);
      res.destroy();
      release(local);
      break;
    case "error":
      answerError(local, msg.code, msg.message);
      break;
    case "log":
      post({
        type: "front-output",
        route: local.route.id,
        requestId: local.requestId,
        stream: msg.stream,
        line: msg.line,
      });
      break;
    case "body-ack":
      break;
  }
}

// Whole answers are held until the loop's turn ends (setImmediate), or a guest is about to run
// and they are older than the outbox's hold: written one at a time as each guest returns, every
// write wakes the client's thread (an interrupt to another core, costly in a virtual machine),
// which with the answers written back to back is awake for most of them. A guest that loops
// until its worker is killed takes what is held with it, as it does the outbox's messages.
let held: (() => void)[] = [];
let heldSince = 0;
function hold(write: () => void): void {
  if (held.length === 0) {
    heldSince = performance.now();
    setImmediate(flushHeld, 0);
  }
  held.push(write);
}

function flushHeld(olderThanMs: number): void {
  if (held.length === 0 || performance.now() - heldSince < olderThanMs) return;
  const writes = held;
  held = [];
  for (const write of writes) write();
}

/** Writes the head (and, for a whole answer, the body); counts and logs the request once. */
function written(local: Local, status: number, write: () => void): void {
  local.answered = true;
  table![local.entry * FRONT_ENTRY + 2] = FRONT_ANSWERING;
  try {
    write();
  } catch (err) {
    // Nothing a guest answers should get here (the worker checked the head): answer 502 if the
    // head is not out yet, else end the connection.
    warn(local, "ERR_GUEST_BAD_RESPONSE", `could not write the guest's response: ${(err as Error).message}`);
    if (local.res.headersSent) local.res.destroy();
    else {
      local.answered = false;
      answerError(local, "ERR_GUEST_BAD_RESPONSE", "the guest's response could not be written");
      return;
    }
    status = 502;
  }
  served(local, status);
}

function answerError(local: Local, code: RuntimeErrorCode, message: string): void {
  const { res } = local;
  if (local.answered) {
    res.destroy();
    release(local);
    return;
  }
  const err = new RuntimeError(code, message);
  if (err.status >= 500) warn(local, code, message);
  const body = JSON.stringify({ error: { code, message, requestId: local.requestId } });
  const headers: WireHeaders = {
    "content-type": "application/json; charset=utf-8",
    [REQUEST_ID_HEADER]: local.requestId,
    "content-length": String(Buffer.byteLength(body)),
  };
  if (err.retryAfter !== undefined) headers["retry-after"] = String(err.retryAfter);
  local.answered = true;
  try {
    res.writeHead(err.status, headers);
    res.end(body);
  } catch {
    res.destroy();
  }
  served(local, err.status);
  release(local);
}

function onDeadline(id: number): void {
  const local = locals.get(id);
  if (!local || local.done) return;
  const reason = `the guest did not answer within its deadline of ${local.route.limits.deadlineMs} ms`;
  running.get(id)?.cancel(reason);
  answerError(local, "ERR_RUNTIME_DEADLINE", reason);
}

/** The request's answer is out (or given up): its table entry and the app's count are freed. */
function release(local: Local): void {
  if (local.done) return;
  local.done = true;
  clearTimeout(local.deadline);
  local.route.inFlight--;
  Atomics.store(table!, local.entry * FRONT_ENTRY, 0);
  freeEntries.push(local.entry);
  locals.delete(local.id);
}

function served(local: Local, status: number): void {
  const ms = performance.now() - local.started;
  const { requestId, method, path } = local;
  servedBatch.push({ route: local.route.id, requestId, method, path, status, ms });
  if (servedBatch.length >= SERVED_BATCH_MAX) sendServed();
  else servedTimer ??= setTimeout(sendServed, SERVED_FLUSH_MS);
  const log = config!.requestLog;
  if (typeof log === "object") {
    logLine(
      log.fd,
      requestLineText({
        requestId,
        app: local.route.access.app,
        method,
        path,
        status,
        ms: Math.round(ms * 10) / 10,
      }),
    );
  }
}

// Answered requests go to the main thread in batches on a timer, not with the answers' messages:
// one message per request (or per guest run, which flushes the outbox) cost more than the rest of
// the worker's work for a request. A kill loses what is not yet sent (at most SERVED_FLUSH_MS).
let servedBatch: ServedRecord[] = [];
let servedTimer: NodeJS.Timeout | undefined;
function sendServed(): void {
  if (servedTimer) clearTimeout(servedTimer);
  servedTimer = undefined;
  if (servedBatch.length === 0) return;
  post({ type: "served", requests: servedBatch });
  servedBatch = [];
}

function warn(local: Local, code: string | undefined, message: string): void {
  post({ type: "front-warning", route: local.route.id, requestId: local.requestId, code, message });
}

// Request lines go to the gateway's log descriptor in pieces a pipe writes whole, so they never
// interleave with the main thread's lines; a quiet worker writes each within LOG_FLUSH_MS.
let logBatch = "";
let logTimer: NodeJS.Timeout | undefined;
let logFd = 1;
let logWriting = false;
function logLine(fd: number, line: string): void {
  logFd = fd;
  if (logBatch.length + line.length > LOG_PIECE_BYTES && !logWriting) flushLog();
  logBatch += line;
  logTimer ??= setTimeout(flushLog, LOG_FLUSH_MS);
}

function flushLog(): void {
  if (logTimer) clearTimeout(logTimer);
  logTimer = undefined;
  if (logBatch === "") return;
  if (logWriting) return;
  // Whole lines, at most a pipe's atomic write at a time.
  const text = logBatch;
  let cut = text.length <= LOG_PIECE_BYTES ? text.length : text.lastIndexOf("\n", LOG_PIECE_BYTES - 1) + 1;
  if (cut <= 0) cut = text.length;
  logBatch = text.slice(cut);
  const piece = text.slice(0, cut);
  // One write at a time, off the thread (a full pipe must not block the guests), in order.
  logWriting = true;
  write(logFd, piece, () => {
    // A closed log (the gateway is exiting) drops the lines, as pino's destination does.
    logWriting = false;
    if (logBatch.length >= LOG_PIECE_BYTES) flushLog();
    else if (logBatch !== "") logTimer ??= setTimeout(flushLog, LOG_FLUSH_MS);
  });
}

/**
 * Passes the request to the main thread's listener, naming the client, and its answer back: the
 * main thread frames it (runtime/worker/response-head.ts ran in whichever worker served it).
 */
function forward(req: IncomingMessage, res: ServerResponse): void {
  const front = config!;
  const raw = req.rawHeaders;
  const headers: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (name === "connection" || name === "keep-alive" || name === FORWARDED_PEER_HEADER) continue;
    headers.push(raw[i]!, raw[i + 1]!);
  }
  const socket = req.socket;
  const entry = freeEntries.pop() ?? -1;
  let id = 0;
  if (entry !== -1) {
    counter = (counter + 1) % 2 ** 31;
    id = -counter;
  }
  // The table entry's id too, so a kill of this worker answers the socket with the culprit's error.
  headers.push(
    FORWARDED_PEER_HEADER,
    `${front.fallbackSecret} ${socket.remoteAddress ?? ""} ${socket.remotePort ?? 0}${entry === -1 ? "" : ` ${prefix} ${id}`}`,
  );
  if (entry !== -1) {
    const at = entry * FRONT_ENTRY;
    table![at + 1] = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd ?? -1;
    table![at + 2] = FRONT_WAITING;
    Atomics.store(table!, at, id);
  }
  const free = () => {
    if (entry === -1 || table![entry * FRONT_ENTRY] !== id) return;
    Atomics.store(table!, entry * FRONT_ENTRY, 0);
    freeEntries.push(entry);
  };
  const out = request({
    host: "127.0.0.1",
    port: front.fallbackPort,
    method: req.method,
    path: req.url,
    headers,
    agent,
    setHost: false,
  });
  out.on("response", (answer) => {
    if (entry !== -1) table![entry * FRONT_ENTRY + 2] = FRONT_ANSWERING;
    const head: string[] = [];
    const rawHead = answer.rawHeaders;
    for (let i = 0; i + 1 < rawHead.length; i += 2) {
      if (!HOP_RESPONSE.has(rawHead[i]!.toLowerCase())) head.push(rawHead[i]!, rawHead[i + 1]!);
    }
    try {
      res.writeHead(answer.statusCode ?? 502, head);
    } catch {
      res.destroy();
      answer.destroy();
      return;
    }
    answer.pipe(res);
    answer.on("error", () => res.destroy());
  });
  out.on("error", () => res.destroy());
  res.on("close", () => {
    free();
    if (!res.writableFinished) out.destroy();
  });
  req.pipe(out);
}
