// The main thread's side of the guest workers: picks a worker for each request, streams bodies
// both ways with flow control, enforces deadlines, and runs the CPU watchdog. A worker whose guest
// overruns its CPU budget is terminated (the only way to stop a wasm loop) and replaced at once by a
// pre-spawned spare; only the requests in flight on that worker fail.
//
// Over 400 lines on purpose: dispatch, body pumping both ways, deadlines and the watchdog all act
// on the same per-worker slots and pending requests; split apart they would pass that state around.

import { writeSync } from "node:fs";
import { Worker } from "node:worker_threads";
import type { Grants } from "../capabilities/grants.ts";
import { type GatewayListeners, NO_LISTENERS } from "../capabilities/outbound-http/hosts.ts";
import { type CpuSlot, createCpuSlot, DEFAULT_STALL_MS, now } from "../cpu-slot.ts";
import { RuntimeError } from "../errors.ts";
import { formatGuestError, GUEST_ERROR_PREFIX, parseGuestError, SourceMaps } from "../guest-error.ts";
import { type GuestLimits, INLINE_BODY_MAX, STREAM_WINDOW } from "../limits.ts";
import type { Logger } from "../logger.ts";
import { Outbox } from "../outbox.ts";
import {
  FRONT_ENTRY,
  FRONT_SLOTS,
  FRONT_WAITING,
  type FromWorker,
  type FrontConfig,
  type FrontRoute,
  type KvBackendConfig,
  type NetworkGrant,
  NULL_BODY_STATUS,
  type ToWorker,
  type WireDeployment,
  type WireHeaders,
  type WireLimits,
  type WireRequest,
} from "../protocol.ts";
import { numberedRequestId } from "../request-line.ts";
import { createStatsBuffer, type RuntimeStats, StatsTotals } from "../stats.ts";
import { bodyBytesPassed } from "./body-memory.ts";
import "./guest-stacks.ts";
import { WorkerContexts } from "./contexts.ts";
import { type Overrun, overrun } from "./watchdog.ts";

export interface InvokeContext {
  requestId: string;
  app: string;
  /** The tenant owning the app. */
  tenant: string;
  /** What the app is granted, by field (capabilities/grants.ts); a field left out grants its default. */
  grants?: Grants;
  /** The special addresses the operator opened for the app (none by default). */
  network?: NetworkGrant;
  /** The app's variables and secrets, merged, as wasi:config/store serves them. */
  config?: readonly (readonly [string, string])[];
  /**
   * A worker's own listener passed the request on: its request-id prefix and the request's id in
   * its in-flight table, so a CPU-limit kill answers that socket with the culprit's own error.
   */
  forwardedBy?: { prefix: string; id: number } | undefined;
}

/**
 * A guest's answer. Headers stay a plain object (lower-case names, repeated ones as arrays, the
 * request id added) that Node's HTTP server writes as it is; the body is whole, a stream passed on
 * as the guest writes it, or null for a status that carries none.
 */
export interface GuestResponse {
  status: number;
  headers: WireHeaders;
  body: Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array> | null;
}

/** A request for a guest: the body is whole, or a stream that is passed on as the guest reads. */
export interface GuestRequest extends Omit<WireRequest, "body"> {
  body: Uint8Array | ReadableStream<Uint8Array> | undefined;
  /** Refuse the body (413) once it passes this many bytes. */
  maxBodyBytes: number;
}

export interface GuestPoolOptions {
  workers: number;
  logger: Logger;
  /** Instances of one app alive at once in one worker; more requests wait for one to free up. */
  maxInstancesPerApp: number;
  /** Requests an instance serves before it is recycled. */
  maxUsesPerInstance: number;
  /** The key-value store guests use; each worker opens its own client. */
  kv: KvBackendConfig | undefined;
  /** Memory for loaded deployments across all workers; each gets an equal share. */
  memoryBudgetBytes: number;
  /** How long an instance may sit idle before it is dropped (default 60 s); its app stays loaded. */
  instanceIdleMs?: number;
  /** How long an app may go without a request before a worker unloads it, code and all (default 5 min). */
  unloadIdleMs?: number;
  /** Wall-clock time a guest may run without yielding before its worker is recycled (default 2 s). */
  stallMs?: number;
  /**
   * Requests an app may have waiting beyond what its instances in every worker can run at once;
   * past that, requests are refused at once (ERR_RUNTIME_OVERLOADED, Retry-After). Default 1,024: what a StarlingMonkey app doing one key-value call drains in about a second on one core.
   */
  maxQueuedPerApp?: number;
  /** Requests a tenant's apps may have in flight together (0: no limit, the default). */
  maxConcurrentPerTenant?: number;
  /** How long a request may wait for an instance of its app (default 10 s); then 503, retryable. */
  maxQueueMs?: number;
}

/** Default of GuestPoolOptions.maxQueueMs: a third of the default 30 s deadline. */
export const DEFAULT_MAX_QUEUE_MS = 10_000;

/** Default of GuestPoolOptions.instanceIdleMs. */
export const DEFAULT_INSTANCE_IDLE_MS = 60_000;

/**
 * Default of GuestPoolOptions.unloadIdleMs: an app idle for five minutes gives back its code's
 * memory; loading it again costs its next request a few milliseconds (docs/explanation/performance.md).
 */
export const DEFAULT_UNLOAD_IDLE_MS = 300_000;

/** Default of GuestPoolOptions.maxQueuedPerApp. */
export const DEFAULT_MAX_QUEUED_PER_APP = 1024;

interface Pending {
  ctx: InvokeContext;
  resolve(response: GuestResponse): void;
  reject(err: Error): void;
  stream?: ReadableStreamDefaultController<Uint8Array>;
  /** Response bytes passed on but not yet acknowledged to the worker. */
  unacked: number;
  /** Request body bytes sent to the worker and not yet consumed by the guest. */
  bodyInFlight: number;
  bodyWake?: () => void;
  deadline: NodeJS.Timeout;
  /** The deployment's prepared files (its source map, for guest errors). */
  dir: string;
}

interface Slot {
  worker: Worker;
  outbox: Outbox<ToWorker>;
  cpu: CpuSlot;
  pending: Map<number, Pending>;
  /** Deployments this worker has been told about. */
  registered: Set<string>;
  retired: boolean;
  /** The worker has booted (a booting one would make its first requests wait). */
  ready: boolean;
  /** The counters the worker keeps (see stats.ts). */
  stats: SharedArrayBuffer;
  /** The limits and access this worker has been sent. */
  contexts: WorkerContexts;
  /** Warms sent and not yet answered, by id: each resolves its `warm()`. */
  warming: Map<number, () => void>;
  /** Its own listener's requests in flight (see FrontConfig.inFlight). */
  inFlight: SharedArrayBuffer;
  /** Its own listener is open, and the prefix of the request ids it gives. */
  listening: boolean;
  prefix: string;
}

/** Where the workers listen themselves (FrontConfig without each worker's own table). */
export type WorkerListenOptions = Omit<FrontConfig, "inFlight" | "maxQueuedPerApp">;

/** A request a worker's own listener answered, as the pool tells it on. */
export interface ServedRequest {
  requestId: string;
  method: string;
  path: string;
  status: number;
  ms: number;
}

/** The app an instance serves: instances are never shared between apps. */
export type AppOwner = Pick<InvokeContext, "tenant" | "app">;

/**
 * Told each line a guest writes to stdout or stderr, with the request that wrote it. An error the
 * guest's handler did not catch comes as one text of several lines (guest-error.ts).
 */
export type GuestOutputListener = (ctx: InvokeContext, stream: "stdout" | "stderr", line: string) => void;

/** Something the runtime logged as a warning or an error, for code that shows it to people. */
export interface RuntimeWarning {
  /** The log line's message. */
  message: string;
  code?: string | undefined;
  requestId?: string | undefined;
  app?: string | undefined;
}

export type RuntimeWarningListener = (warning: RuntimeWarning) => void;

/** Every response carries the request id the gateway's log uses. */
export const REQUEST_ID_HEADER = "x-request-id";
const WORKER_URL = new URL("../worker/guest.worker.ts", import.meta.url);
// A worker keeps its preferred apps while it is at most this many requests busier than the least
// busy one: apps stay warm in few workers without one worker queueing everything.
const AFFINITY_SLACK = 4;
const WORKER_YOUNG_GENERATION_MB = 4;
/** How long after an incident the next spare worker starts. */
const SPARE_RESPAWN_DELAY_MS = 100;
/** How often the watchdog looks at the workers' CPU slots. */
const WATCHDOG_MS = 5;
/**
 * The longest `warm()` keeps a deploy waiting: a StarlingMonkey instance starts in tens of
 * milliseconds, a loaded machine's worker may take seconds; past this the deploy answers anyway.
 */
export const WARM_WAIT_MS = 5_000;

export interface GuestPool {
  /**
   * Runs `request` in a worker. `limits` should be the same object for every request of an app
   * (and `ctx`'s lists the same arrays) while they do not change: the worker is sent them once.
   */
  invoke(
    deployment: WireDeployment,
    request: GuestRequest,
    limits: GuestLimits,
    ctx: InvokeContext,
  ): Promise<GuestResponse>;
  evict(key: string): void;
  /**
   * Loads a deployment in the worker that will serve it and starts one instance of the app in
   * advance. Resolves once that is done (or failed: the first request reports why), the worker
   * went away, or WARM_WAIT_MS passed; never rejects.
   */
  warm(deployment: WireDeployment, limits: GuestLimits, owner: AppOwner): Promise<void>;
  /** Tells every worker, and those started later, the gateway's own ports. */
  setGatewayListeners(listeners: GatewayListeners): void;
  /**
   * Opens a listener on the data port in every worker in service (and in each that replaces one);
   * resolves once they all listen. `served` is told each request they answer, with the `tag` its
   * host was offered with.
   */
  listenInWorkers(
    options: WorkerListenOptions,
    served: (tag: unknown, request: ServedRequest) => void,
  ): Promise<void>;
  /**
   * Lets the workers' own listeners answer `host` (a Host header, lower-case) themselves, with this
   * deployment, limits and access, until `resetRoutes`. Does nothing unless they listen.
   */
  offerRoute(
    host: string,
    deployment: WireDeployment,
    limits: GuestLimits,
    ctx: Omit<InvokeContext, "requestId">,
    maxBodyBytes: number,
    tag: unknown,
  ): void;
  /** Every host offered goes to the main thread again (after any change to routes or config). */
  resetRoutes(): void;
  /** Closes the workers' own listeners; resolves once their connections have ended. */
  stopListening(): Promise<void>;
  /** Workers replaced since start (CPU-limit kills and crashes). */
  readonly restarts: number;
  /** Counters and worker state for metrics and readiness. */
  stats(): RuntimeStats;
  /** Calls `listener` with every line of guest output; returns the function that stops it. */
  onGuestOutput(listener: GuestOutputListener): () => void;
  /** Calls `listener` with every warning the pool logs; returns the function that stops it. */
  onWarning(listener: RuntimeWarningListener): () => void;
  close(): Promise<void>;
}

export function createGuestPool(options: GuestPoolOptions): GuestPool {
  const { logger } = options;
  let nextId = 1;
  let closed = false;
  let restarts = 0;
  let cpuLimitKills = 0;
  let stalls = 0;
  const stallMs = options.stallMs ?? DEFAULT_STALL_MS;
  const maxQueuedPerApp = options.maxQueuedPerApp ?? DEFAULT_MAX_QUEUED_PER_APP;
  const maxQueueMs = options.maxQueueMs ?? DEFAULT_MAX_QUEUE_MS;
  const maxPerTenant = options.maxConcurrentPerTenant ?? 0;
  /** Requests in flight (sent, not yet answered with a head or an error), by app and by tenant. */
  const appInFlight = new Map<string, number>();
  const tenantInFlight = new Map<string, number>();
  let shed = 0;
  const shedByApp = new Map<string, number>();
  const count = (map: Map<string, number>, key: string, by: number) => {
    const n = (map.get(key) ?? 0) + by;
    if (n === 0) map.delete(key);
    else map.set(key, n);
  };
  const totals = new StatsTotals();
  /** Slots whose worker has not exited yet: their counters are read where they are. */
  const counting = new Set<Slot>();
  const outputListeners = new Set<GuestOutputListener>();
  const sourceMaps = new SourceMaps();
  const warningListeners = new Set<RuntimeWarningListener>();
  /** Logs a warning (or an error) and tells the warning listeners. */
  function warn(level: "warn" | "error", fields: object, warning: RuntimeWarning): void {
    logger[level](fields, warning.message);
    for (const listener of warningListeners) listener(warning);
  }
  const slots: Slot[] = [];
  let spare: Slot | undefined;
  let listeners = NO_LISTENERS;
  /** Where workers listen themselves, once the gateway asked them to. */
  let front: Omit<FrontConfig, "inFlight" | "maxQueuedPerApp"> | undefined;
  let onServed: ((tag: unknown, request: ServedRequest) => void) | undefined;
  /** The hosts the workers answer themselves, and what each route id stands for. */
  const frontRoutes = new Map<string, FrontRoute>();
  const frontTags = new Map<number, { tag: unknown; ctx: InvokeContext; dir: string }>();
  let nextRouteId = 1;
  /** Called whenever a worker starts or stops listening. */
  const listenWaiters = new Set<() => void>();

  /** An app's limits with the pool's instance limits, as a worker takes them. */
  function wireLimits(limits: GuestLimits): WireLimits {
    return {
      ...limits,
      maxInstances: options.maxInstancesPerApp,
      maxUses: options.maxUsesPerInstance,
      maxQueueMs,
    };
  }

  function frontFor(inFlight: SharedArrayBuffer): FrontConfig | undefined {
    return front && { ...front, inFlight, maxQueuedPerApp: Math.ceil(maxQueuedPerApp / options.workers) };
  }

  function spawn(): Slot {
    const { buffer, slot: cpu } = createCpuSlot();
    const stats = createStatsBuffer();
    const inFlight = new SharedArrayBuffer(FRONT_SLOTS * FRONT_ENTRY * Int32Array.BYTES_PER_ELEMENT);
    const worker = new Worker(WORKER_URL, {
      // Streamed body chunks are ArrayBuffers whose memory is freed only when their small wrapper
      // objects are collected; a small young generation collects them sooner (100 MiB through an
      // echo guest: peak RSS +91..103 MiB -> +60..65 MiB, throughput unchanged).
      resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
      workerData: {
        cpu: buffer,
        stats,
        kv: options.kv,
        memoryBudgetBytes: options.memoryBudgetBytes / options.workers,
        instanceIdleMs: options.instanceIdleMs ?? DEFAULT_INSTANCE_IDLE_MS,
        unloadIdleMs: options.unloadIdleMs ?? DEFAULT_UNLOAD_IDLE_MS,
        listeners,
        front: frontFor(inFlight),
      },
    });
    const slot: Slot = {
      worker,
      outbox: new Outbox((batch, transfer) => worker.postMessage(batch, transfer)),
      cpu,
      pending: new Map(),
      registered: new Set(),
      retired: false,
      ready: false,
      stats,
      // Posts only once the slot exists.
      contexts: new WorkerContexts((msg) => post(slot, msg), wireLimits),
      inFlight,
      listening: false,
      prefix: "",
      warming: new Map(),
    };
    counting.add(slot);
    for (const [host, route] of frontRoutes) post(slot, { type: "front-route", host, route });
    worker.on("message", (batch: FromWorker[]) => {
      for (const msg of batch) onMessage(slot, msg);
    });
    worker.on("error", (err) => warn("error", { err }, { message: "guest worker failed" }));
    worker.on("exit", (code) => {
      counting.delete(slot);
      totals.fold(stats);
      if (!slot.retired && !closed) {
        warn("warn", { code }, { message: "guest worker exited unexpectedly; replacing it" });
        replace(slot, undefined);
      }
    });
    return slot;
  }

  /** Takes `slot` out of service, puts the spare in its place, fails what was in flight on it. */
  /** Terminates a worker and fails what it was running; `culprit` is the guest that caused it. */
  function replace(slot: Slot, culprit?: Overrun): void {
    if (slot.retired) return;
    slot.retired = true;
    slot.outbox.close();
    restarts++;
    if (culprit?.reason === "cpu") cpuLimitKills++;
    if (culprit?.reason === "stalled") stalls++;
    const why =
      culprit?.reason === "stalled"
        ? `another guest ran for more than ${stallMs} ms without yielding`
        : "another guest overran its CPU limit";
    const index = slots.indexOf(slot);
    if (index !== -1 && !closed) {
      const next = spare ?? spawn();
      slots[index] = next;
      spare = undefined;
      // The replacement takes the port share over; meanwhile the kernel gives new connections to
      // the other workers' listeners.
      if (front) post(next, { type: "listen" });
    }
    // A worker stopped by the watchdog is stuck in a guest and still holds its connections: answer
    // the requests waiting on them before it goes. One that exited on its own has closed them.
    if (culprit && front) answerStranded(slot, culprit, why);
    void slot.worker.terminate();
    endWarms(slot);
    for (const [id, p] of slot.pending) {
      const err = killError(id === culprit?.id ? culprit : undefined, why);
      settle(slot, id, p);
      fail(p, err);
    }
    // Answer first, and let the requests in flight have the CPU: booting a worker takes tens of
    // milliseconds of it, which slowed the next incident's detection on two cores.
    setTimeout(() => {
      if (!closed && !spare) spare = spawn();
    }, SPARE_RESPAWN_DELAY_MS).unref();
  }

  /** What a request on a replaced worker is answered: its own overrun's error, else a retry. */
  function killError(own: Overrun | undefined, why: string): RuntimeError {
    if (own === undefined) {
      return new RuntimeError(
        "ERR_RUNTIME_WORKER_RESTARTED",
        `the worker running this request was restarted because ${why}; retry`,
      );
    }
    return own.reason === "cpu"
      ? new RuntimeError(
          "ERR_RUNTIME_CPU_LIMIT",
          "the guest used more CPU time than its limit and was stopped",
        )
      : new RuntimeError(
          "ERR_RUNTIME_STALLED",
          `the guest ran for more than ${stallMs} ms of wall-clock time without yielding and was stopped`,
        );
  }

  /**
   * Writes a 503 (the culprit's own error for the request that overran) on the socket of every
   * request of `slot`'s listener whose answer has not started, with `Connection: close`: the
   * worker is stuck in the culprit's code and cannot, and its connections close when it goes.
   */
  function answerStranded(slot: Slot, culprit: Overrun, why: string): void {
    const table = new Int32Array(slot.inFlight);
    const passed = slot.pending.get(culprit.id)?.ctx.forwardedBy;
    const culpritHere = passed?.prefix === slot.prefix ? passed.id : undefined;
    for (let at = 0; at < table.length; at += FRONT_ENTRY) {
      const id = Atomics.load(table, at);
      if (id === 0 || table[at + 2] !== FRONT_WAITING) continue;
      const fd = table[at + 1]!;
      if (fd < 0) continue;
      const err = killError(id === culprit.id || id === culpritHere ? culprit : undefined, why);
      const requestId = numberedRequestId(slot.prefix, -id);
      const body = JSON.stringify({ error: { code: err.code, message: err.message, requestId } });
      const head = [
        `HTTP/1.1 ${err.status} ${err.status === 504 ? "Gateway Timeout" : "Service Unavailable"}`,
        "content-type: application/json; charset=utf-8",
        `${REQUEST_ID_HEADER}: ${requestId}`,
        ...(err.retryAfter === undefined ? [] : [`retry-after: ${err.retryAfter}`]),
        `content-length: ${Buffer.byteLength(body)}`,
        "connection: close",
      ];
      try {
        writeSync(fd, `${head.join("\r\n")}\r\n\r\n${body}`);
      } catch {
        // The client is gone, or its socket cannot take the bytes now: it sees the connection close.
      }
    }
  }

  /** Resolves the warms a worker will not answer any more. */
  function endWarms(slot: Slot): void {
    for (const done of slot.warming.values()) done();
    slot.warming.clear();
  }

  function settle(slot: Slot, id: number, p: Pending): void {
    clearTimeout(p.deadline);
    slot.pending.delete(id);
    p.bodyWake?.();
  }

  /** Resolves with the guest's response, whose head the worker checked (response-head.ts). */
  function respond(p: Pending, status: number, headers: WireHeaders, body: GuestResponse["body"]): void {
    headers[REQUEST_ID_HEADER] = p.ctx.requestId;
    p.resolve({ status, headers, body });
  }

  function fail(p: Pending, err: Error): void {
    if (p.stream) p.stream.error(err);
    else p.reject(err);
  }

  function post(slot: Slot, msg: ToWorker, transfer: ArrayBuffer[] = []): void {
    if (!slot.retired) slot.outbox.post(msg, transfer);
  }

  function onMessage(slot: Slot, msg: FromWorker): void {
    if (msg.type === "ready") {
      slot.ready = true;
      return;
    }
    if (msg.type === "listening" || msg.type === "unlistened") {
      slot.listening = msg.type === "listening";
      if (msg.type === "listening") slot.prefix = msg.prefix;
      for (const wake of listenWaiters) wake();
      return;
    }
    if (msg.type === "served") {
      for (const served of msg.requests) {
        const known = frontTags.get(served.route);
        if (known) onServed?.(known.tag, served);
      }
      return;
    }
    if (msg.type === "front-output") {
      const known = frontTags.get(msg.route);
      if (!known) return;
      const ctx = { ...known.ctx, requestId: msg.requestId };
      if (msg.line.startsWith(GUEST_ERROR_PREFIX)) uncaught(ctx, known.dir, msg.stream, msg.line);
      else output(ctx, msg.stream, msg.line);
      return;
    }
    if (msg.type === "front-warning") {
      const app = frontTags.get(msg.route)?.ctx.app;
      const { requestId, code, message } = msg;
      warn("error", { requestId, app, code }, { message, code, requestId, app });
      return;
    }
    if (msg.type === "warmed") {
      slot.warming.get(msg.id)?.();
      return;
    }
    if (msg.type === "unloaded") {
      logger.info(
        { deployment: msg.key.split(":")[0] },
        msg.reason === "budget"
          ? "unloaded an idle app to stay within the memory budget"
          : "unloaded an app that had no request for the unload idle time",
      );
      return;
    }
    const p = slot.pending.get(msg.id);
    if (!p) return;
    switch (msg.type) {
      case "response":
        bodyBytesPassed(msg.body.byteLength);
        settle(slot, msg.id, p);
        respond(p, msg.status, msg.headers, NULL_BODY_STATUS.has(msg.status) ? null : msg.body);
        break;
      case "head": {
        const id = msg.id;
        const body = NULL_BODY_STATUS.has(msg.status)
          ? null
          : new ReadableStream<Uint8Array>(
              {
                start(controller) {
                  p.stream = controller;
                },
                pull() {
                  if (p.unacked > 0) {
                    post(slot, { type: "ack", id, bytes: p.unacked });
                    p.unacked = 0;
                  }
                },
                cancel() {
                  // The client went away: stop the guest rather than let it write into the void.
                  post(slot, { type: "cancel", id, reason: "the client closed the connection" });
                },
              },
              { highWaterMark: STREAM_WINDOW, size: (chunk) => chunk.byteLength },
            );
        respond(p, msg.status, msg.headers, body);
        break;
      }
      case "chunk": {
        const controller = p.stream;
        if (!controller) break;
        bodyBytesPassed(msg.data.byteLength);
        controller.enqueue(msg.data);
        if ((controller.desiredSize ?? 0) > 0)
          post(slot, { type: "ack", id: msg.id, bytes: msg.data.byteLength });
        else p.unacked += msg.data.byteLength;
        break;
      }
      case "end":
        settle(slot, msg.id, p);
        p.stream?.close();
        break;
      case "abort":
        if (msg.code === "ERR_RUNTIME_CPU_LIMIT") cpuLimitKills++;
        settle(slot, msg.id, p);
        warn(
          "warn",
          { requestId: p.ctx.requestId, app: p.ctx.app, code: msg.code, reason: msg.message },
          { message: "response aborted", code: msg.code, requestId: p.ctx.requestId, app: p.ctx.app },
        );
        p.stream?.error(new RuntimeError(msg.code, msg.message));
        break;
      case "error":
        if (msg.code === "ERR_RUNTIME_CPU_LIMIT") cpuLimitKills++;
        settle(slot, msg.id, p);
        fail(p, new RuntimeError(msg.code, msg.message));
        break;
      case "body-ack":
        p.bodyInFlight -= msg.bytes;
        if (p.bodyInFlight <= STREAM_WINDOW) {
          const wake = p.bodyWake;
          p.bodyWake = undefined;
          wake?.();
        }
        break;
      case "log":
        if (msg.line.startsWith(GUEST_ERROR_PREFIX)) uncaught(p.ctx, p.dir, msg.stream, msg.line);
        else output(p.ctx, msg.stream, msg.line);
        break;
    }
  }

  function output(ctx: InvokeContext, stream: "stdout" | "stderr", line: string): void {
    logger.info({ requestId: ctx.requestId, app: ctx.app, stream, line }, "guest output");
    for (const listener of outputListeners) listener(ctx, stream, line);
  }

  /**
   * The SDK's line for an error its handler did not catch: one record with the error's name,
   * message and stack mapped to the project's sources, and the same as text to the listeners. A
   * line that does not parse stays ordinary output.
   */
  function uncaught(ctx: InvokeContext, dir: string, stream: "stdout" | "stderr", line: string): void {
    const error = parseGuestError(line, sourceMaps.get(dir));
    if (!error) {
      output(ctx, stream, line);
      return;
    }
    const { requestId, app } = ctx;
    logger.error(
      { requestId, app, name: error.name, message: error.message, stack: error.stack },
      "uncaught error in the guest",
    );
    const text = formatGuestError(error);
    for (const listener of outputListeners) listener(ctx, "stderr", text);
  }

  /** Passes a streamed request body to the worker as the guest consumes it. */
  async function pump(slot: Slot, id: number, p: Pending, body: ReadableStream<Uint8Array>, limit: number) {
    const reader = body.getReader();
    let total = 0;
    try {
      for (;;) {
        if (!slot.pending.has(id)) return;
        const { done, value } = await reader.read();
        if (done) {
          post(slot, { type: "body-end", id });
          return;
        }
        total += value.byteLength;
        if (total > limit) {
          post(slot, { type: "body-end", id, error: "request body too large" });
          if (slot.pending.has(id) && !p.stream) {
            settle(slot, id, p);
            post(slot, { type: "cancel", id, reason: "request body too large" });
            p.reject(
              new RuntimeError(
                "ERR_RUNTIME_BODY_TOO_LARGE",
                `the request body is larger than ${limit} bytes`,
              ),
            );
          }
          return;
        }
        // Transfer only a buffer the chunk owns whole; a view into a shared pool is copied first
        // (a Node Buffer's slice() would share it, and the transfer would detach the whole pool).
        const data =
          value.byteOffset === 0 &&
          value.byteLength === value.buffer.byteLength &&
          !(value.buffer instanceof SharedArrayBuffer)
            ? value
            : new Uint8Array(value);
        p.bodyInFlight += data.byteLength;
        bodyBytesPassed(data.byteLength);
        post(slot, { type: "body", id, data }, [data.buffer as ArrayBuffer]);
        while (p.bodyInFlight > STREAM_WINDOW && slot.pending.has(id)) {
          await new Promise<void>((resolve) => {
            p.bodyWake = resolve;
          });
        }
      }
    } catch (err) {
      post(slot, { type: "body-end", id, error: `the request body failed: ${(err as Error).message}` });
    } finally {
      reader.cancel().catch(() => {});
    }
  }

  /** Each deployment's preferred worker, by index: hashing its key on every request showed up. */
  const homes = new Map<string, number>();

  function pick(key: string): Slot {
    // A worker still booting (just replaced, no spare was left) gets requests only if all are.
    let least: Slot | undefined;
    for (const s of slots) if (s.ready && (!least || s.pending.size < least.pending.size)) least = s;
    if (!least) {
      least = slots[0]!;
      for (const s of slots) if (s.pending.size < least.pending.size) least = s;
    }
    let home = homes.get(key);
    if (home === undefined) {
      if (homes.size >= 10_000) homes.clear();
      home = hash(key) % slots.length;
      homes.set(key, home);
    }
    const preferred = slots[home]!;
    return preferred.ready && preferred.pending.size <= least.pending.size + AFFINITY_SLACK
      ? preferred
      : least;
  }

  for (let i = 0; i < options.workers; i++) slots.push(spawn());
  spare = spawn();

  const watchdog = setInterval(() => {
    const t = now();
    for (const slot of slots) {
      const culprit = overrun(slot.cpu, t, stallMs);
      if (!culprit) continue;
      const p = slot.pending.get(culprit.id);
      warn(
        "warn",
        {
          requestId: p?.ctx.requestId,
          app: p?.ctx.app,
          reason: culprit.reason,
          overBudgetMs: culprit.overBudgetMs,
        },
        {
          message:
            culprit.reason === "cpu"
              ? "guest CPU limit exceeded; restarting its worker"
              : "guest stalled without yielding; restarting its worker",
          requestId: p?.ctx.requestId,
          app: p?.ctx.app,
        },
      );
      replace(slot, culprit);
    }
  }, WATCHDOG_MS);
  watchdog.unref();

  return {
    get restarts() {
      return restarts;
    },
    stats() {
      return {
        workers: slots.length,
        workersReady: slots.filter((s) => s.ready && !s.retired).length,
        closed,
        cpuLimitKills,
        stalls,
        shed,
        shedByApp: Object.fromEntries(shedByApp),
        inFlightByApp: Object.fromEntries(appInFlight),
        workerRestarts: restarts,
        ...totals.sum([...counting].map((s) => ({ buffer: s.stats, retired: s.retired }))),
      };
    },
    onGuestOutput(listener) {
      outputListeners.add(listener);
      return () => outputListeners.delete(listener);
    },
    onWarning(listener) {
      warningListeners.add(listener);
      return () => warningListeners.delete(listener);
    },
    invoke(deployment, request, limits, ctx) {
      if (closed)
        return Promise.reject(new RuntimeError("ERR_RUNTIME_CLOSED", "the gateway is shutting down"));
      // Bounded waiting: an app past what its instances can run plus its queue, or a tenant past
      // its concurrency, is refused at once rather than queued behind its own backlog.
      const appKey = `${ctx.tenant}/${ctx.app}`;
      const appBound = options.maxInstancesPerApp * slots.length + maxQueuedPerApp;
      const refusal =
        (appInFlight.get(appKey) ?? 0) >= appBound
          ? `the app ${ctx.app} has ${appBound} requests in flight, as many as it may; retry after a second`
          : maxPerTenant > 0 && (tenantInFlight.get(ctx.tenant) ?? 0) >= maxPerTenant
            ? `the tenant's apps have ${maxPerTenant} requests in flight, as many as they may; retry after a second`
            : undefined;
      if (refusal !== undefined) {
        shed++;
        count(shedByApp, appKey, 1);
        return Promise.reject(new RuntimeError("ERR_RUNTIME_OVERLOADED", refusal));
      }
      count(appInFlight, appKey, 1);
      count(tenantInFlight, ctx.tenant, 1);
      const done = () => {
        count(appInFlight, appKey, -1);
        count(tenantInFlight, ctx.tenant, -1);
      };
      const slot = pick(deployment.key);
      const id = nextId++;
      const { body, maxBodyBytes, ...head } = request;
      return new Promise<GuestResponse>((resolveHead, rejectHead) => {
        const resolve = (response: GuestResponse) => {
          done();
          resolveHead(response);
        };
        const reject = (err: Error) => {
          done();
          rejectHead(err);
        };
        const p: Pending = {
          ctx,
          dir: deployment.dir,
          resolve,
          reject,
          unacked: 0,
          bodyInFlight: 0,
          deadline: setTimeout(() => {
            if (!slot.pending.has(id)) return;
            settle(slot, id, p);
            const reason = `the guest did not answer within its deadline of ${limits.deadlineMs} ms`;
            post(slot, { type: "cancel", id, reason });
            fail(p, new RuntimeError("ERR_RUNTIME_DEADLINE", reason));
          }, limits.deadlineMs),
        };
        slot.pending.set(id, p);
        if (!slot.registered.has(deployment.key)) {
          slot.registered.add(deployment.key);
          post(slot, { type: "register", deployment });
        }
        const inline = body === undefined || body instanceof Uint8Array;
        const wire: ToWorker = {
          type: "invoke",
          id,
          deployment: deployment.key,
          context: slot.contexts.idFor(limits, ctx),
          request: { ...head, body: inline ? body : "stream" },
        };
        const transfer =
          body instanceof Uint8Array && body.byteLength > 0 ? [body.buffer as ArrayBuffer] : [];
        post(slot, wire, transfer);
        if (!inline) void pump(slot, id, p, body, maxBodyBytes);
      });
    },
    warm(deployment, limits, owner) {
      if (closed) return Promise.resolve();
      const slot = pick(deployment.key);
      if (!slot.registered.has(deployment.key)) {
        slot.registered.add(deployment.key);
        post(slot, { type: "register", deployment });
      }
      const id = nextId++;
      const warmed = new Promise<void>((resolve) => {
        const timer = setTimeout(done, WARM_WAIT_MS);
        timer.unref();
        function done() {
          clearTimeout(timer);
          slot.warming.delete(id);
          resolve();
        }
        slot.warming.set(id, done);
      });
      post(slot, {
        type: "warm",
        id,
        key: deployment.key,
        limits: wireLimits(limits),
        tenant: owner.tenant,
        app: owner.app,
      });
      return warmed;
    },
    setGatewayListeners(next) {
      listeners = Object.freeze({ dataPorts: [...next.dataPorts], adminPorts: [...next.adminPorts] });
      // Posted before anything later on the same worker: no request sent after this runs without it.
      for (const s of spare ? [...slots, spare] : slots) post(s, { type: "listeners", listeners });
    },
    listenInWorkers(next, served) {
      front = next;
      onServed = served;
      for (const s of spare ? [...slots, spare] : slots)
        post(s, { type: "front", front: frontFor(s.inFlight)! });
      for (const s of slots) post(s, { type: "listen" });
      return new Promise<void>((resolve) => {
        const check = () => {
          if (closed || slots.every((s) => s.listening || s.retired)) {
            listenWaiters.delete(check);
            resolve();
          }
        };
        listenWaiters.add(check);
      });
    },
    offerRoute(host, deployment, limits, ctx, maxBodyBytes, tag) {
      // A tenant's concurrency is counted here, across workers: its requests stay on this path.
      if (!front || closed || maxPerTenant > 0) return;
      if (frontTags.size >= 20_000) frontTags.clear();
      const id = nextRouteId++;
      const route: FrontRoute = {
        id,
        deployment,
        limits: wireLimits(limits),
        access: {
          tenant: ctx.tenant,
          app: ctx.app,
          grants: ctx.grants ?? {},
          network: ctx.network ?? { allowPrivateNetwork: [], trustAllowList: false },
          config: ctx.config ?? [],
        },
        maxBodyBytes,
      };
      frontRoutes.set(host, route);
      frontTags.set(id, { tag, ctx: { ...ctx, requestId: "" }, dir: deployment.dir });
      for (const s of spare ? [...slots, spare] : slots) post(s, { type: "front-route", host, route });
    },
    resetRoutes() {
      if (frontRoutes.size === 0) return;
      frontRoutes.clear();
      for (const s of spare ? [...slots, spare] : slots) post(s, { type: "front-reset" });
    },
    stopListening() {
      if (!front) return Promise.resolve();
      for (const s of slots) post(s, { type: "unlisten" });
      return new Promise<void>((resolve) => {
        const check = () => {
          if (closed || slots.every((s) => !s.listening || s.retired)) {
            listenWaiters.delete(check);
            resolve();
          }
        };
        listenWaiters.add(check);
        check();
      });
    },
    evict(key) {
      for (const s of slots) {
        s.registered.delete(key);
        post(s, { type: "evict", key });
      }
    },
    async close() {
      closed = true;
      clearInterval(watchdog);
      const all = spare ? [...slots, spare] : slots;
      for (const s of all) {
        s.retired = true;
        s.outbox.close();
        endWarms(s);
      }
      await Promise.all(all.map((s) => s.worker.terminate()));
    },
  };
}

/** Whether a body of `length` bytes (from Content-Length) is small enough to send in one message. */
export function inlineBody(length: number | undefined): boolean {
  return length !== undefined && length <= INLINE_BODY_MAX;
}

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}
