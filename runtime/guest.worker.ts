// A long-lived worker thread running guests. It keeps, per deployment, the compiled core modules
// and a pool of idle instances; one instance serves one request at a time. Guests that wait (timers,
// body reads, streaming writes) are suspended through JSPI, so one worker serves many requests at
// once. Guest CPU time is metered into a slot the main thread's watchdog reads.

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parentPort, workerData } from "node:worker_threads";
import type { KvStore } from "../kv/index.ts";
import { type ConfigGrant, createConfigImports, EMPTY_CONFIG } from "./capabilities/config.ts";
import { createKeyValueImports, type KvGrant } from "./capabilities/keyvalue.ts";
import {
  AddressRanges,
  type GatewayListeners,
  type NetworkPolicy,
  NO_LISTENERS,
  type OutboundPattern,
  parseOutboundPattern,
} from "./capabilities/outbound-hosts.ts";
import { createOutboundHttpImports, type OutboundGrant } from "./capabilities/outbound-http.ts";
import type { ComponentInfo } from "./component-info.ts";
import { CpuMeter, GuestStopped, installCpuMeter, openCpuSlot } from "./cpu-meter.ts";
import type { RuntimeErrorCode } from "./errors.ts";
import { createKvBackend, type KvBackendConfig } from "./kv-backend.ts";
import { firstCallAllowanceMs, GUEST_OUTPUT_LIMIT, INSTANTIATE_CPU_MS, STREAM_WINDOW } from "./limits.ts";
import { loadInstantiate } from "./load-component.ts";
import { capMemory } from "./memory-cap.ts";
import { Outbox } from "./outbox.ts";
import { BadResponseHead, checkResponseHead, NULL_BODY_STATUS } from "./response-head.ts";
import { countingKvStore, WorkerStats } from "./stats.ts";
import {
  ByteQueue,
  createWasiImports,
  type ErrorCode,
  GuestOutput,
  IncomingRequest,
  type IncomingRequestInit,
  linkDirectly,
  ResponseOutparam,
  type ResponseSink,
} from "./wasi/index.ts";
import type {
  FromWorker,
  ToWorker,
  WireAccess,
  WireDeployment,
  WireHeaders,
  WireLimits,
  WireRequest,
} from "./wire.ts";

const port = parentPort!;
const outbox = new Outbox<FromWorker>((batch, transfer) => port.postMessage(batch, transfer));
const post = (msg: FromWorker, transfer?: ArrayBuffer[]) => outbox.post(msg, transfer);
/**
 * Before a guest runs, answers older than this go out. A guest that loops until the watchdog
 * terminates the worker takes unsent messages with it: their requests fail as restarted. This
 * bounds that loss to what finished just before, and the wait of answers behind a long call.
 */
const OUTBOX_HOLD_MS = 0.25;
/** A whole response body this large moves to the main thread; a smaller one is copied, which is cheaper. */
const TRANSFER_MIN_BYTES = 4096;
const config = workerData as {
  cpu: SharedArrayBuffer;
  /** Counters the main thread reads for metrics (see stats.ts). */
  stats: SharedArrayBuffer;
  kv: KvBackendConfig | undefined;
  /** This worker's share of the gateway's memory budget for loaded deployments. */
  memoryBudgetBytes: number;
  /** The gateway's own ports as they were when this worker started ("listeners" updates them). */
  listeners: GatewayListeners | undefined;
};
let gatewayListeners = config.listeners ?? NO_LISTENERS;
const meter = new CpuMeter(openCpuSlot(config.cpu), () => outbox.flushOlderThan(OUTBOX_HOLD_MS));
installCpuMeter(meter);
const stats = new WorkerStats(config.stats);
// One store client per worker, opened on first use.
let kvStore: KvStore | undefined;
const getKvStore = (): KvStore => {
  kvStore ??= countingKvStore(createKvBackend(config.kv), stats);
  return kvStore;
};

/** Instances idle this long are dropped; a pool with none live is dropped after the same time. */
const IDLE_MS = 60_000;
/** Bounds of the idle-time window that decides whether a pool grows (see AppPool.acquire). */
const GROW_WINDOW_MIN_MS = 1;
const GROW_WINDOW_MAX_MS = 20;
/** How often the loaded deployments are checked against the memory budget, besides on loads. */
const BUDGET_CHECK_MS = 1000;

interface HttpHandler {
  handle(request: IncomingRequest, out: ResponseOutparam): Promise<void>;
}
interface EdgeHandler {
  handle(request: Omit<WireRequest, "body" | "scheme"> & { body: Uint8Array }): Promise<EdgeResponse>;
}
type Handler = HttpHandler | EdgeHandler;

interface Instance {
  handler: Handler;
  output: GuestOutput;
  grant: KvGrant;
  outbound: OutboundGrant;
  config: ConfigGrant;
  memories: WebAssembly.Memory[];
  requestId: number;
  uses: number;
  idleSince: number;
}

type Instantiate = (
  getCoreModule: (name: string) => Promise<WebAssembly.Module>,
  imports: Record<string, unknown>,
  instantiateCore: (
    module: WebAssembly.Module,
    imports: WebAssembly.Imports,
  ) => Promise<WebAssembly.Instance>,
) => Promise<Record<string, Handler>>;

/**
 * The compiled code of one digest under one memory cap. Code is immutable, so every app that
 * deploys the same bytes shares it; instances never are (see AppPool).
 */
class Code {
  readonly key: string;
  readonly dir: string;
  readonly info: ComponentInfo;
  readonly memoryBytes: number;
  #instantiate: Promise<Instantiate> | undefined;
  readonly #cores = new Map<string, Promise<WebAssembly.Module>>();
  /** Size of the core wasm code and generated JS, known once they are loaded. */
  codeBytes = 0;
  jsBytes = 0;
  /** Pools using it: it is forgotten with the last. */
  users = 0;

  constructor(key: string, deployment: WireDeployment, memoryBytes: number) {
    this.key = key;
    this.dir = deployment.dir;
    this.info = deployment.info;
    this.memoryBytes = memoryBytes;
  }

  instantiate(): Promise<Instantiate> {
    this.#instantiate ??= loadInstantiate<Instantiate>(join(this.dir, "component.js")).then((loaded) => {
      this.jsBytes = loaded.bytes;
      return loaded.instantiate;
    });
    return this.#instantiate;
  }

  coreModule(name: string): Promise<WebAssembly.Module> {
    let module = this.#cores.get(name);
    if (!module) {
      module = readFile(join(this.dir, name)).then((bytes) => {
        this.codeBytes += bytes.byteLength;
        return WebAssembly.compile(capMemory(bytes, this.memoryBytes).bytes as Uint8Array<ArrayBuffer>);
      });
      this.#cores.set(name, module);
    }
    return module;
  }

  /** Rough memory held: the wasm and generated JS, and what they compiled to. */
  estimateBytes(): number {
    return (this.codeBytes + this.jsBytes) * 2;
  }
}

const codes = new Map<string, Code>();

function codeFor(deployment: WireDeployment, memoryBytes: number): Code {
  const key = `${deployment.key}:${memoryBytes}`;
  let code = codes.get(key);
  if (!code) {
    code = new Code(key, deployment, memoryBytes);
    codes.set(key, code);
  }
  code.users++;
  return code;
}

/**
 * The instances of one app (of one tenant) for one deployment. Instances hold the guest's
 * module-level state in their memories, so a pool is never shared between apps, even when they
 * deploy identical bytes: one app's requests never run on an instance another app's requests ran on.
 */
class AppPool {
  readonly code: Code;
  readonly #idle: Instance[] = [];
  /** Wall-clock milliseconds the last instance's start code took (compiling not included). */
  #createMs = 0;
  /** The worker sat idle long enough with requests waiting: the next waiter makes an instance. */
  #mayGrow = false;
  #growTimer: NodeJS.Timeout | undefined;
  #live = 0;
  #creating = 0;
  /** Out of `pools`: its instances no longer count as live (busy ones finish regardless). */
  #dropped = false;
  readonly #waiters: (() => void)[] = [];
  lastUsed = Date.now();

  constructor(code: Code) {
    this.code = code;
  }

  get singleUse(): boolean {
    return this.code.info.singleUse;
  }
  get world(): ComponentInfo["world"] {
    return this.code.info.world;
  }
  get live(): number {
    return this.#live;
  }

  /**
   * An idle instance, or a new one once the worker has sat idle, with requests of this app waiting,
   * for half as long as making an instance takes. A worker runs one guest at a time: while it has
   * guest code to run, another instance would only interleave with the busy ones on the same
   * thread and cost memory and cache (StarlingMonkey hello went from 962 to 1,241 req/s when
   * instances stopped piling up, the KV counter from 440-652 to 756-816). Idle time with requests
   * waiting means every instance is waiting on something (KV, a body, a timer, an outgoing call)
   * and another would put the thread to use. A short wait on a fast store (a Redis round trip) is
   * not worth an instance; guests that wait long get one after the next, up to `limit`. The first
   * instance is made at once.
   */
  async acquire(id: number, limit: number): Promise<Instance> {
    for (;;) {
      const idle = this.take(id);
      if (idle) return idle;
      if (this.#creating === 0 && this.#live < limit && (this.#live === 0 || this.#mayGrow)) break;
      this.#watchIdle(limit);
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    this.#mayGrow = false;
    this.#addLive(1);
    this.#creating++;
    try {
      const instance = await this.#create(id);
      stats.instanceCreated();
      enforceBudget();
      return this.#lend(instance, id);
    } catch (err) {
      this.#addLive(-1);
      throw err;
    } finally {
      this.#creating--;
      meter.leave(id);
      // A waiter may now take an instance that frees up, or wait for the next one.
      this.#waiters.shift()?.();
    }
  }

  /** An idle instance, lent at once, or undefined (then `acquire` waits for or makes one). */
  take(id: number): Instance | undefined {
    this.lastUsed = Date.now();
    const idle = this.#idle.pop();
    return idle && this.#lend(idle, id);
  }

  /**
   * While requests wait for an instance, looks at how long the worker's event loop sat idle over
   * the time making an instance takes; past half of it, the next waiter makes one.
   */
  #watchIdle(limit: number): void {
    // Idle time while an instance is being made is the compiler's, not guests' waiting.
    if (this.#growTimer || this.#creating > 0 || this.#live >= limit) return;
    const window = Math.min(GROW_WINDOW_MAX_MS, Math.max(GROW_WINDOW_MIN_MS, this.#createMs));
    const idleAtStart = performance.eventLoopUtilization().idle;
    this.#growTimer = setTimeout(() => {
      this.#growTimer = undefined;
      if (this.#waiters.length === 0 || this.#dropped || this.#creating > 0) return;
      if (performance.eventLoopUtilization().idle - idleAtStart >= window / 2) {
        this.#mayGrow = true;
        this.#waiters.shift()?.();
      } else {
        this.#watchIdle(limit);
      }
    }, window);
    this.#growTimer.unref();
  }

  #lend(instance: Instance, id: number): Instance {
    instance.requestId = id;
    return instance;
  }

  release(instance: Instance, reusable: boolean, maxUses: number): void {
    if (reusable && instance.uses < maxUses) {
      instance.idleSince = Date.now();
      this.#idle.push(instance);
      // One freed up: the pool was not short after all.
      this.#mayGrow = false;
    } else {
      this.#addLive(-1);
    }
    this.#waiters.shift()?.();
  }

  /** Instances serving a request right now. */
  get busy(): number {
    return this.#live - this.#idle.length;
  }

  /** Rough memory its instances hold (the code is counted once, in `codes`). */
  estimateBytes(): number {
    let bytes = 0;
    for (const instance of this.#idle) {
      for (const memory of instance.memories) bytes += memory.buffer.byteLength;
    }
    return bytes + this.busy * this.code.memoryBytes;
  }

  /** Drops instances idle since before `cutoff`; true when nothing is left. */
  sweep(cutoff: number): boolean {
    for (let i = this.#idle.length - 1; i >= 0; i--) {
      if (this.#idle[i]!.idleSince < cutoff) {
        this.#idle.splice(i, 1);
        this.#addLive(-1);
      }
    }
    return this.#live === 0 && this.lastUsed < cutoff;
  }

  get dropped(): boolean {
    return this.#dropped;
  }

  /** Called when the pool is taken out of `pools`. */
  drop(): void {
    if (this.#dropped) return;
    this.#dropped = true;
    stats.instances(-this.#live);
    if (--this.code.users === 0) codes.delete(this.code.key);
  }

  #addLive(delta: number): void {
    this.#live += delta;
    if (!this.#dropped) stats.instances(delta);
  }

  async #create(id: number): Promise<Instance> {
    const code = this.code;
    const instantiate = await code.instantiate();
    const instance: Instance = {
      handler: undefined as never,
      output: undefined as never,
      memories: [],
      grant: { tenant: "", buckets: [], opsLeft: 0 },
      outbound: NO_OUTBOUND,
      config: EMPTY_CONFIG,
      requestId: 0,
      uses: 0,
      idleSince: 0,
    };
    instance.output = new GuestOutput(GUEST_OUTPUT_LIMIT, (stream, line) =>
      post({ type: "log", id: instance.requestId, stream, line }),
    );
    const getCoreModule = (name: string) => code.coreModule(name);
    // Keep the instance's memories, to tell an out-of-memory trap from others.
    const instantiateCore = async (module: WebAssembly.Module, imports?: WebAssembly.Imports) => {
      linkDirectly(imports);
      const core = await WebAssembly.instantiate(module, imports);
      for (const value of Object.values(core.exports)) {
        if (value instanceof WebAssembly.Memory) instance.memories.push(value);
      }
      return core;
    };
    const imports = {
      ...createWasiImports(instance.output),
      ...createKeyValueImports(
        getKvStore,
        () => instance.grant,
        () => stats.kvError("ERR_KV_OP_LIMIT"),
      ),
      ...createOutboundHttpImports(() => instance.outbound),
      ...createConfigImports(() => instance.config),
    };
    // Compile first (not guest code, and it waits); then run the component's start code metered.
    await Promise.all(code.info.files.filter((f) => f.endsWith(".wasm")).map(getCoreModule));
    await meter.begin(id, INSTANTIATE_CPU_MS);
    const started = performance.now();
    const exports = await instantiate(getCoreModule, imports, instantiateCore);
    this.#createMs = performance.now() - started;
    const handler = exports[code.info.handlerExport];
    if (!handler) throw new Error(`the component has no export ${code.info.handlerExport}`);
    instance.handler = handler;
    return instance;
  }
}

const pools = new Map<string, AppPool>();

/** Why a request's outgoing calls were cut short when it ended normally. */
const REQUEST_ENDED = new Error("the request that made this call has ended");
const stopped = new AbortController();
stopped.abort();
const NO_RANGES = new AddressRanges([]);
/** Between requests an instance may call nothing. */
const NO_OUTBOUND: OutboundGrant = {
  allowed: [],
  network: { granted: NO_RANGES, trustAllowList: false, listeners: NO_LISTENERS },
  subrequestsLeft: 0,
  connectTimeoutMs: 0,
  timeoutMs: 0,
  maxResponseBytes: 0,
  signal: stopped.signal,
};

/**
 * Collects the guest's response. While the guest runs without suspending, everything is buffered
 * and sent as one message when `handle` returns; once the guest suspends (a setImmediate only runs
 * then), what is there is flushed and the rest streams, at most STREAM_WINDOW bytes ahead of what
 * the main thread has passed on.
 */
class Sink implements ResponseSink {
  readonly #id: number;
  readonly #limit: number;
  #status = 0;
  #headers: WireHeaders = {};
  #chunks: Uint8Array[] = [];
  #written = 0;
  #inFlight = 0;
  #unblock: (() => void) | undefined;
  #headSent = false;
  #hasHead = false;
  #ended = false;
  #failed: ErrorCode | undefined;
  #tooLarge = false;
  #flushScheduled = false;
  /** Why what the guest answered cannot be sent: a bad head, or a body its length does not fit. */
  #bad: string | undefined;
  /** The body length the guest promised, held to when the response carries a body. */
  #declared: number | undefined;
  /** The request was HEAD: a promised length describes a body that is not sent. */
  readonly #headRequest: boolean;

  constructor(id: number, limit: number, method: string) {
    this.#id = id;
    this.#limit = limit;
    this.#headRequest = method === "HEAD";
  }

  get hasHead(): boolean {
    return this.#hasHead;
  }
  get streaming(): boolean {
    return this.#headSent;
  }
  get failed(): ErrorCode | undefined {
    return this.#failed;
  }
  get tooLarge(): boolean {
    return this.#tooLarge;
  }
  get bad(): string | undefined {
    return this.#bad;
  }
  get closed(): boolean {
    return this.#ended || this.#tooLarge || this.#bad !== undefined;
  }

  head(status: number, headers: [string, Uint8Array][]): void {
    if (this.#setHead(status, headers)) this.#schedule();
  }

  /** A whole response at once (the fast world): `complete()` sends it, nothing streams. */
  answer(status: number, headers: [string, string][], body: Uint8Array): void {
    if (!this.#setHead(status, headers)) return;
    this.#written = body.byteLength;
    if (this.#written > this.#limit) {
      this.#tooLarge = true;
      return;
    }
    if (this.#declared !== undefined && this.#declared !== body.byteLength) {
      this.#misframed(`its body is ${body.byteLength} bytes`);
      return;
    }
    if (body.byteLength > 0) this.#chunks.push(body);
    this.#ended = true;
  }

  /** Checks the guest's head (see response-head.ts); false when it cannot be sent. */
  #setHead(status: number, headers: readonly (readonly [string, Uint8Array | string])[]): boolean {
    this.#hasHead = true;
    try {
      const head = checkResponseHead(status, headers);
      this.#status = head.status;
      this.#headers = head.headers;
      const bodyless = this.#headRequest || NULL_BODY_STATUS.has(head.status);
      this.#declared = bodyless ? undefined : head.declaredLength;
      return true;
    } catch (err) {
      if (!(err instanceof BadResponseHead)) throw err;
      this.#bad = err.message;
      return false;
    }
  }

  /** The body does not fit the length the guest promised: nothing more of it goes out. */
  #misframed(what: string): void {
    this.#bad = `the guest's content-length is ${this.#declared} but ${what}`;
    this.#chunks = [];
  }

  write(chunk: Uint8Array): Promise<void> | undefined {
    if (this.closed) return undefined;
    if (this.#declared !== undefined && this.#written + chunk.byteLength > this.#declared) {
      this.#misframed(`it wrote ${this.#written + chunk.byteLength} bytes or more`);
      return undefined;
    }
    this.#written += chunk.byteLength;
    if (this.#written > this.#limit) {
      this.#tooLarge = true;
      this.#chunks = [];
      return undefined;
    }
    this.#chunks.push(chunk);
    this.#inFlight += chunk.byteLength;
    if (this.#headSent) this.#schedule();
    if (this.#inFlight <= STREAM_WINDOW) return undefined;
    // Wait until the main thread has passed enough on. Before the first flush nothing is in flight
    // across threads yet, so this also makes a large synchronous writer start streaming.
    this.#schedule();
    return new Promise((resolve) => {
      this.#unblock = resolve;
    });
  }

  ack(bytes: number): void {
    this.#inFlight -= bytes;
    if (this.#inFlight <= STREAM_WINDOW) {
      const unblock = this.#unblock;
      this.#unblock = undefined;
      unblock?.();
    }
  }

  end(): void {
    if (this.#ended || this.#bad !== undefined) return;
    if (this.#declared !== undefined && this.#written < this.#declared) {
      this.#misframed(`its body ended after ${this.#written} bytes`);
      return;
    }
    this.#ended = true;
    if (this.#headSent) {
      this.#flush();
      post({ type: "end", id: this.#id });
    }
  }

  error(code: ErrorCode): void {
    this.#failed = code;
  }

  /** After `handle` returned: send whatever has not gone out yet (nothing, once `bad` is set). */
  complete(): void {
    if (this.#headSent) {
      if (!this.#ended) this.end();
      return;
    }
    if (this.#bad !== undefined) return;
    if (this.#declared !== undefined && this.#written !== this.#declared) {
      this.#misframed(`its body is ${this.#written} bytes`);
      return;
    }
    this.#ended = true;
    const body = concat(this.#chunks);
    this.#chunks = [];
    post(
      { type: "response", id: this.#id, status: this.#status, headers: this.#headers, body },
      body.byteLength >= TRANSFER_MIN_BYTES ? [body.buffer] : undefined,
    );
  }

  #schedule(): void {
    if (this.#flushScheduled || !this.#hasHead) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      if (this.#ended && !this.#headSent) return; // answered in one go: complete() sends it
      if (this.#tooLarge || this.#bad !== undefined) return;
      if (!this.#headSent) {
        this.#headSent = true;
        // A streamed body goes out with the length the guest promised, if any; it is held to it.
        const headers =
          this.#declared === undefined
            ? this.#headers
            : { ...this.#headers, "content-length": String(this.#declared) };
        post({ type: "head", id: this.#id, status: this.#status, headers });
      }
      this.#flush();
    });
  }

  #flush(): void {
    if (this.#chunks.length === 0) return;
    const data = concat(this.#chunks);
    this.#chunks = [];
    post({ type: "chunk", id: this.#id, data }, [data.buffer]);
  }
}

function concat(chunks: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const only = chunks[0];
  if (chunks.length === 1 && only!.byteOffset === 0 && only!.byteLength === only!.buffer.byteLength) {
    return only as Uint8Array<ArrayBuffer>;
  }
  return new Uint8Array(Buffer.concat(chunks));
}

interface Running {
  pool: AppPool;
  sink: Sink;
  body: ByteQueue | undefined;
  cancel(reason: string): void;
}
const running = new Map<number, Running>();
const NO_BYTES = new Uint8Array(0);

function fail(id: number, code: RuntimeErrorCode, message: string): void {
  post({ type: "error", id, code, message });
}

/** Fails the request, or cuts its response short if it is already streaming. */
function reportStop(id: number, sink: Sink, code: RuntimeErrorCode, text: string): void {
  if (sink.streaming) post({ type: "abort", id, code, message: text });
  else fail(id, code, text);
}

/** How much of its cap the instance's largest memory uses, from 0 to 1. */
function memoryShare(instance: Instance, limits: WireLimits): number {
  let largest = 0;
  for (const m of instance.memories) largest = Math.max(largest, m.buffer.byteLength);
  return largest / limits.memoryBytes;
}

function outOfMemory(instance: Instance, limits: WireLimits): boolean {
  // Allocators give up a little before the cap: a trap with memory near it is out-of-memory.
  return memoryShare(instance, limits) >= 0.875;
}

/**
 * An instance whose memory has grown past this share of its cap is not reused: a guest that leaks
 * starts over on a fresh instance before it runs out, instead of failing a request.
 */
const REUSE_MEMORY_SHARE = 0.75;

function overgrown(instance: Instance, limits: WireLimits): boolean {
  return memoryShare(instance, limits) > REUSE_MEMORY_SHARE;
}

const deployments = new Map<string, WireDeployment>();

/**
 * The pool of one app's instances of a deployment: keyed by the deployment (its digest), the
 * memory cap its code was compiled under, and the app it serves.
 */
function poolFor(deployment: WireDeployment, memoryBytes: number, owner: string): AppPool {
  const key = `${deployment.key}:${memoryBytes}:${owner}`;
  let pool = pools.get(key);
  if (!pool) {
    pool = new AppPool(codeFor(deployment, memoryBytes));
    pools.set(key, pool);
  }
  return pool;
}

/** Who a pool's instances serve: one app of one tenant (names hold no newline). */
function ownerOf(tenant: string, app: string): string {
  return `${tenant}\n${app}`;
}

/** The pool a context's requests of a deployment use, remembered so most requests build no key. */
function contextPool(context: Context, deployment: WireDeployment): AppPool {
  const last = context.last;
  if (last?.deployment === deployment && !last.pool.dropped) return last.pool;
  const pool = poolFor(deployment, context.limits.memoryBytes, context.owner);
  context.last = { deployment, pool };
  return pool;
}

/** Loads a deployment and starts one idle instance of an app ahead of its first request. */
async function warm(id: number, key: string, limits: WireLimits, owner: string): Promise<void> {
  const deployment = deployments.get(key);
  if (!deployment) return;
  const pool = poolFor(deployment, limits.memoryBytes, owner);
  if (pool.live > 0) return;
  try {
    pool.release(await pool.acquire(id, limits.maxInstances), !pool.singleUse, limits.maxUses);
  } catch {
    // The first real request reports whatever went wrong.
  }
}

/**
 * A request's cancellation (deadline, client gone): its reason once cancelled, and a promise that
 * rejects then, made only if the guest waits on something.
 */
class Cancellation {
  reason: string | undefined;
  #promise: Promise<never> | undefined;
  #reject: ((err: GuestStopped) => void) | undefined;

  get promise(): Promise<never> {
    if (!this.#promise) {
      this.#promise = new Promise<never>((_, reject) => {
        this.#reject = reject;
      });
      this.#promise.catch(() => {});
      if (this.reason !== undefined) this.#reject!(new GuestStopped("cancelled", this.reason));
    }
    return this.#promise;
  }

  cancel(reason: string): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    this.#reject?.(new GuestStopped("cancelled", reason));
  }
}

/**
 * What one request may call out to. Its calls end with it (answered, failed or cancelled); the
 * abort signal is made on first use, as most requests call out to nothing.
 */
class RequestOutbound implements OutboundGrant {
  readonly allowed: readonly OutboundPattern[];
  readonly #context: Context;
  #network: NetworkPolicy | undefined;
  subrequestsLeft: number;
  readonly connectTimeoutMs: number;
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
  #done: AbortController | undefined;
  #ended: unknown;

  constructor(context: Context, limits: WireLimits) {
    this.allowed = context.outbound;
    this.#context = context;
    this.subrequestsLeft = limits.outboundRequests;
    this.connectTimeoutMs = limits.outboundConnectTimeoutMs;
    this.timeoutMs = limits.outboundTimeoutMs;
    this.maxResponseBytes = limits.outboundMaxResponseBytes;
  }

  /** Made on the first outgoing call, with the gateway's ports as the worker knows them then. */
  get network(): NetworkPolicy {
    this.#network ??= {
      granted: this.#context.granted,
      trustAllowList: this.#context.access.network.trustAllowList,
      listeners: gatewayListeners,
    };
    return this.#network;
  }

  get signal(): AbortSignal {
    if (!this.#done) {
      this.#done = new AbortController();
      if (this.#ended !== undefined) this.#done.abort(this.#ended);
    }
    return this.#done.signal;
  }

  end(reason: unknown): void {
    if (this.#ended !== undefined) return;
    this.#ended = reason;
    this.#done?.abort(reason);
  }
}

/** What the requests of one app run with (see the "context" message), prepared once. */
interface Context {
  limits: WireLimits;
  access: WireAccess;
  /** The app the requests are for (see ownerOf): its own instances serve them. */
  owner: string;
  outbound: readonly OutboundPattern[];
  /** The special addresses the operator opened for the app's tenant. */
  granted: AddressRanges;
  config: ConfigGrant;
  last?: { deployment: WireDeployment; pool: AppPool };
}
const contexts = new Map<number, Context>();

function openContext(limits: WireLimits, access: WireAccess): Context {
  return {
    limits,
    access,
    owner: ownerOf(access.tenant, access.app),
    // The gateway validated them; anything unparsable is simply not allowed.
    outbound: access.allowedOutboundHosts
      .map(parseOutboundPattern)
      .filter((p): p is OutboundPattern => typeof p !== "string"),
    granted:
      access.network.allowPrivateNetwork.length === 0
        ? NO_RANGES
        : new AddressRanges(access.network.allowPrivateNetwork),
    config: access.config.length === 0 ? EMPTY_CONFIG : { entries: new Map(access.config) },
  };
}

async function invoke(id: number, deploymentKey: string, request: WireRequest, context: Context) {
  const { limits, access } = context;
  const deployment = deployments.get(deploymentKey);
  if (!deployment) {
    fail(id, "ERR_RUNTIME_ARTIFACT_MISSING", `deployment ${deploymentKey} is not registered in this worker`);
    return;
  }
  const pool = contextPool(context, deployment);
  const sink = new Sink(id, limits.maxResponseBytes, request.method);
  let body: ByteQueue | undefined;
  if (request.body === "stream") {
    body = new ByteQueue();
    const queue = body;
    let consumed = 0;
    queue.onDrain = (taken, buffered) => {
      // Tell the main thread what was read, in window-sized steps, so it sends more.
      consumed += taken;
      if (buffered < STREAM_WINDOW / 2) {
        post({ type: "body-ack", id, bytes: consumed });
        consumed = 0;
      }
    };
  }
  const cancellation = new Cancellation();
  const outbound = new RequestOutbound(context, limits);
  running.set(id, {
    pool,
    sink,
    body,
    cancel(reason) {
      cancellation.cancel(reason);
      body?.end(reason);
      outbound.end(new GuestStopped("cancelled", reason));
    },
  });

  // Most requests find an idle instance: take it without a turn of the event loop.
  let instance = pool.take(id);
  if (!instance) {
    try {
      instance = await pool.acquire(id, limits.maxInstances);
    } catch (err) {
      running.delete(id);
      fail(id, "ERR_RUNTIME_INSTANTIATE", `the component could not be instantiated: ${message(err)}`);
      return;
    }
  }
  if (cancellation.reason !== undefined) {
    running.delete(id);
    pool.release(instance, true, limits.maxUses);
    return;
  }
  instance.grant = { tenant: access.tenant, buckets: access.buckets, opsLeft: limits.kvOps };
  instance.outbound = outbound;
  instance.config = context.config;
  const budget = limits.cpuMs + (instance.uses === 0 ? firstCallAllowanceMs(pool.code.codeBytes) : 0);
  instance.uses++;
  const inline = request.body === "stream" ? undefined : request.body;
  // The fast world takes the whole body; reading it is waiting, not guest CPU. A body that failed
  // (too large, client gone) was already answered by the main thread: the guest is not called.
  let whole: Uint8Array | undefined;
  if (pool.world === "edge") {
    whole = body ? await readAll(body) : (inline ?? NO_BYTES);
    if (whole === undefined || cancellation.reason !== undefined) {
      running.delete(id);
      pool.release(instance, true, limits.maxUses);
      return;
    }
  }
  let answered = false;
  let threw = false;
  let failure: unknown;
  const turn = meter.begin(id, budget);
  if (turn) await turn;
  meter.abortWith(id, cancellation);
  try {
    answered =
      whole === undefined
        ? await callHttp(instance, { ...request, body: body ?? ByteQueue.of(inline) }, sink)
        : await callEdge(instance, request, whole, sink);
  } catch (err) {
    threw = true;
    failure = err;
  }
  const overBudget = meter.leave(id);
  outbound.end(REQUEST_ENDED);
  instance.outbound = NO_OUTBOUND;
  instance.config = EMPTY_CONFIG;
  instance.output.reset();
  running.delete(id);
  // Even a guest that finished is answered as stopped when it used more CPU than it may.
  const trapped = threw || overBudget;
  const cancelled = cancellation.reason;
  if (cancelled !== undefined) reportStop(id, sink, "ERR_RUNTIME_DEADLINE", cancelled);
  else if (threw && sink.tooLarge) {
    // Writes past the limit fail, and guests often trap on that: report the cause.
    reportStop(
      id,
      sink,
      "ERR_RUNTIME_RESPONSE_TOO_LARGE",
      `the guest's response is larger than ${limits.maxResponseBytes} bytes`,
    );
  } else if (threw && sink.bad !== undefined) {
    // So do writes after a head the gateway refused.
    reportStop(id, sink, "ERR_GUEST_BAD_RESPONSE", sink.bad);
  } else if (overBudget)
    reportStop(id, sink, "ERR_RUNTIME_CPU_LIMIT", "the guest used more CPU time than its limit");
  else if (threw && outOfMemory(instance, limits)) {
    reportStop(
      id,
      sink,
      "ERR_RUNTIME_OUT_OF_MEMORY",
      `the guest ran out of memory (limit ${limits.memoryBytes} bytes)`,
    );
  } else if (threw) reportStop(id, sink, "ERR_RUNTIME_TRAP", `the guest trapped: ${message(failure)}`);
  if (!trapped) {
    if (sink.tooLarge) {
      reportStop(
        id,
        sink,
        "ERR_RUNTIME_RESPONSE_TOO_LARGE",
        `the guest's response is larger than ${limits.maxResponseBytes} bytes`,
      );
    } else if (sink.failed) {
      fail(id, "ERR_RUNTIME_GUEST_ERROR", `the guest answered with an error: ${sink.failed.tag}`);
    } else if (!answered || !sink.hasHead) {
      fail(id, "ERR_RUNTIME_NO_RESPONSE", "the guest returned without setting a response");
    } else {
      sink.complete();
      if (sink.bad !== undefined) reportStop(id, sink, "ERR_GUEST_BAD_RESPONSE", sink.bad);
    }
  }
  // A trap can leave the instance's memory in any state, and a cancelled request may have left it
  // mid-way: never reuse either.
  const reusable = !trapped && cancelled === undefined && !pool.singleUse && !overgrown(instance, limits);
  pool.release(instance, reusable, limits.maxUses);
}

/** The standard world: the guest answers through response-outparam and streams its body. */
async function callHttp(instance: Instance, init: IncomingRequestInit, sink: Sink): Promise<boolean> {
  const out = new ResponseOutparam(sink);
  await (instance.handler as HttpHandler).handle(new IncomingRequest(init), out);
  return out.isSet;
}

interface EdgeResponse {
  status: number;
  headers: [string, string][];
  body: Uint8Array | number[] | undefined;
}

/** The fast world: a request record in, a response record out. */
async function callEdge(
  instance: Instance,
  request: WireRequest,
  body: Uint8Array,
  sink: Sink,
): Promise<boolean> {
  const res = await (instance.handler as EdgeHandler).handle({
    method: request.method,
    pathWithQuery: request.pathWithQuery,
    authority: request.authority,
    headers: request.headers,
    body,
  });
  const bytes = res.body instanceof Uint8Array ? res.body : Uint8Array.from(res.body ?? []);
  sink.answer(res.status, res.headers, bytes);
  return true;
}

/** The whole body, or undefined when it failed. */
async function readAll(queue: ByteQueue): Promise<Uint8Array | undefined> {
  const chunks: Uint8Array[] = [];
  for (;;) {
    await queue.whenReadable();
    if (queue.done) return chunks.length === 1 ? chunks[0]! : new Uint8Array(Buffer.concat(chunks));
    try {
      chunks.push(queue.read(STREAM_WINDOW));
    } catch {
      return undefined;
    }
  }
}

function message(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0]!.slice(0, 300);
}

port.on("message", (batch: ToWorker[]) => {
  for (const msg of batch) receive(msg);
});

function receive(msg: ToWorker): void {
  switch (msg.type) {
    case "register":
      deployments.set(msg.deployment.key, msg.deployment);
      break;
    case "context":
      if (msg.replaces !== undefined) contexts.delete(msg.replaces);
      contexts.set(msg.id, openContext(msg.limits, msg.access));
      break;
    case "contexts-reset":
      contexts.clear();
      break;
    case "listeners":
      gatewayListeners = msg.listeners;
      break;
    case "invoke": {
      const context = contexts.get(msg.context);
      if (context) void invoke(msg.id, msg.deployment, msg.request, context);
      else fail(msg.id, "ERR_RUNTIME_ARTIFACT_MISSING", `context ${msg.context} is not known in this worker`);
      break;
    }
    case "body":
      running.get(msg.id)?.body?.push(msg.data);
      break;
    case "body-end":
      running.get(msg.id)?.body?.end(msg.error);
      break;
    case "ack":
      running.get(msg.id)?.sink.ack(msg.bytes);
      break;
    case "cancel":
      running.get(msg.id)?.cancel(msg.reason);
      break;
    case "warm":
      void warm(msg.id, msg.key, msg.limits, ownerOf(msg.tenant, msg.app));
      break;
    case "evict":
      deployments.delete(msg.key);
      for (const [key, pool] of pools) {
        if (key.startsWith(`${msg.key}:`)) {
          pool.drop();
          pools.delete(key);
        }
      }
      break;
  }
}

// Instances grow their memories while they serve: look at the budget now and then, besides
// whenever an instance is made.
setInterval(enforceBudget, BUDGET_CHECK_MS).unref();

setInterval(() => {
  const cutoff = Date.now() - IDLE_MS;
  for (const [key, pool] of pools) {
    if (pool.sweep(cutoff)) {
      pool.drop();
      pools.delete(key);
    }
  }
}, IDLE_MS / 4).unref();

/**
 * Keeps the loaded deployments within this worker's memory budget: past it, the least recently
 * used pools with nothing in flight are dropped (their code and instances are collected; a later
 * request loads them again).
 */
function enforceBudget(): void {
  let total = 0;
  for (const pool of pools.values()) total += pool.estimateBytes();
  for (const code of codes.values()) total += code.estimateBytes();
  if (total <= config.memoryBudgetBytes) return;
  const idle = [...pools.entries()]
    .filter(([, p]) => p.busy === 0)
    .sort(([, a], [, b]) => a.lastUsed - b.lastUsed);
  for (const [key, pool] of idle) {
    if (total <= config.memoryBudgetBytes) break;
    total -= pool.estimateBytes();
    // Code goes with the last pool that uses it.
    if (pool.code.users === 1) total -= pool.code.estimateBytes();
    pool.drop();
    pools.delete(key);
    post({ type: "unloaded", key });
  }
}

post({ type: "ready" });
