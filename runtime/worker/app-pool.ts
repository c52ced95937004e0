// A worker's loaded deployments: compiled code per digest (shared by every app that deploys the
// same bytes), and per app a pool of instances, grown only while the worker has time to spare,
// swept when idle, and dropped least recently used first to stay within the memory budget. A pool
// whose requests each need a fresh instance puts its instances back to their first state between
// requests (instance-reset.ts), and prepares new ones in idle time when that cannot be done.

import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { CAPABILITIES, IDLE_STATES, importsNeeded, statesNeeded } from "../capabilities/index.ts";
import { GuestOutput, type IncomingRequest, type ResponseOutparam } from "../capabilities/wasi/index.ts";
import type { ComponentInfo } from "../component-info.ts";
import { GUEST_OUTPUT_LIMIT, INSTANTIATE_CPU_MS } from "../limits.ts";
import type { WireDeployment, WireRequest } from "../protocol.ts";
import { meter, post, services, stats, workerConfig } from "./env.ts";
import { InstanceImage } from "./instance-reset.ts";
import {
  type CoreModule,
  type Glue,
  type Held,
  holdCoreModule,
  holdGlue,
  sharedBytes,
} from "./shared-code.ts";

/** A request waited for an instance longer than its app may (WireLimits.maxQueueMs). */
export class QueueTimeout extends Error {
  override readonly name = "QueueTimeout";
  readonly waitedMs: number;
  constructor(waitedMs: number) {
    super(`no instance of the app was free within ${waitedMs} ms`);
    this.waitedMs = waitedMs;
  }
}

/** How often idle instances and idle apps are looked for, at most and at least. */
const SWEEP_MIN_MS = 250;
const SWEEP_MAX_MS = 15_000;
/** Bounds of the idle-time window that decides whether a pool grows (see AppPool.acquire). */
const GROW_WINDOW_MIN_MS = 1;
const GROW_WINDOW_MAX_MS = 20;
/**
 * How much of that window the loop must sit idle, by the size of an instance's memory: half for
 * one of this size or more (StarlingMonkey's 9 MiB), down to a tenth for a small one. More
 * instances of a large guest interleave on the thread and evict each other from the caches.
 */
const GROW_IDLE_LARGE_BYTES = 16 * 1024 * 1024;
const GROW_IDLE_MIN_SHARE = 0.1;
const GROW_IDLE_MAX_SHARE = 0.5;
/** How often the loaded deployments are checked against the memory budget, besides on loads. */
export const BUDGET_CHECK_MS = 1000;
/**
 * What a loaded deployment holds besides its shared code and its instances' memories, for the
 * budget: its records, its pool, jco's objects of each instance. Measured on the WAT fixture,
 * 300 loaded apps with one instance each cost 0.04 MiB an app more than the code alone.
 */
const APP_OVERHEAD_BYTES = 64 * 1024;
/**
 * Requests a fresh-per-request instance serves, reset in between, before it is replaced. A reset
 * puts back the guest's memory and globals, not what the host keeps for it: handles to host
 * resources the guest took after it started (stdout, say) and forgot with the reset stay in jco's
 * tables until the instance goes. Replacing one costs about 4 ms, once per this many requests.
 */
export const RESETS_PER_INSTANCE = 1000;
/** How soon a spare that found the worker busy looks again. */
const SPARE_RETRY_MS = 1;

/** The fast world's answer: a response record. */
export interface EdgeResponse {
  status: number;
  headers: [string, string][];
  body: Uint8Array | number[] | undefined;
}

export interface HttpHandler {
  handle(request: IncomingRequest, out: ResponseOutparam): Promise<void>;
}
export interface EdgeHandler {
  handle(request: Omit<WireRequest, "body" | "scheme"> & { body: Uint8Array }): Promise<EdgeResponse>;
}
type Handler = HttpHandler | EdgeHandler;

export interface Instance {
  handler: Handler;
  output: GuestOutput;
  /** Each capability's state for the running request, in registry order (`idle` between them). */
  states: readonly unknown[];
  memories: WebAssembly.Memory[];
  requestId: number;
  uses: number;
  idleSince: number;
  /** Fresh-per-request pools: the state it started with, put back after each request. */
  image: InstanceImage | undefined;
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
 * deploys the same bytes shares it, and its glue and core modules are shared with every other
 * deployment whose files are the same (shared-code.ts); instances never are (see AppPool).
 */
export class Code {
  readonly key: string;
  readonly dir: string;
  readonly info: ComponentInfo;
  readonly memoryBytes: number;
  #instantiate: Promise<Instantiate> | undefined;
  readonly #cores = new Map<string, Promise<WebAssembly.Module>>();
  /** The shared code it holds, released when it is forgotten. */
  readonly #held: Held<unknown>[] = [];
  #released = false;
  /** Size of the core wasm code, known once it is loaded. */
  codeBytes = 0;
  /** Pools using it: it is forgotten with the last. */
  users = 0;
  /**
   * Whether every core module's state could be exported (expose-state.ts), so that instances can
   * be reset; known once the modules are loaded.
   */
  resettable = true;
  /** The memory images of its first reset instance: later ones that start identical share them. */
  readonly images: Uint8Array<ArrayBuffer>[] = [];

  /** Which capabilities' request state its requests need (statesNeeded), from its imports. */
  readonly statesNeeded: readonly boolean[];
  /** Which capabilities its instances need host imports from (importsNeeded). */
  readonly importsNeeded: readonly boolean[];

  constructor(key: string, deployment: WireDeployment, memoryBytes: number) {
    this.key = key;
    this.dir = deployment.dir;
    this.info = deployment.info;
    this.memoryBytes = memoryBytes;
    this.statesNeeded = statesNeeded(deployment.info.imports);
    this.importsNeeded = importsNeeded(deployment.info.imports);
  }

  instantiate(): Promise<Instantiate> {
    this.#instantiate ??= holdGlue<Instantiate>(
      join(this.dir, "component.js"),
      this.info.digests?.["component.js"],
    ).then((held) => {
      this.#hold(held);
      return held.value.instantiate;
    });
    return this.#instantiate;
  }

  coreModule(name: string): Promise<WebAssembly.Module> {
    let module = this.#cores.get(name);
    if (!module) {
      module = holdCoreModule(join(this.dir, name), this.info.digests?.[name], this.memoryBytes).then(
        (held) => {
          this.#hold(held);
          this.codeBytes += held.value.bytes;
          if (!held.value.resettable) this.resettable = false;
          return held.value.module;
        },
      );
      this.#cores.set(name, module);
    }
    return module;
  }

  /** Loads the glue and compiles every core module, without starting an instance. */
  async load(): Promise<void> {
    await Promise.all([
      this.instantiate(),
      ...this.info.files.filter((f) => f.endsWith(".wasm")).map((f) => this.coreModule(f)),
    ]);
  }

  #hold(held: Held<Glue<unknown>> | Held<CoreModule>): void {
    // Forgotten while it loaded: give it back at once.
    if (this.#released) held.release();
    else this.#held.push(held);
  }

  /** Gives back the shared code it holds: called once, when the last pool using it is dropped. */
  release(): void {
    this.#released = true;
    for (const held of this.#held.splice(0)) held.release();
  }

  /**
   * Rough memory it holds of its own: the images its instances share. The glue and core modules
   * are counted once for all deployments that use them (sharedBytes).
   */
  estimateBytes(): number {
    return this.images.reduce((n, image) => n + image.byteLength, 0);
  }

  /** What releasing it would free of the shared code now: what no other deployment holds. */
  sharedFreed(): number {
    return this.#held.reduce((n, held) => n + held.freed(), 0);
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

/** Ids the worker meters its own instantiations under (spares): below 0, never a request's. */
let nextSpareId = -1;

/**
 * The instances of one app (of one tenant) for one deployment. Instances hold the guest's
 * module-level state in their memories, so a pool is never shared between apps, even when they
 * deploy identical bytes: one app's requests never run on an instance another app's requests ran on.
 *
 * A `fresh` pool gives every request an instance in the state it started in (fetch-event guests,
 * and apps with `instances: "per-request"`). An instance that served a request goes to `#dirty`
 * and is reset once the answer has gone out (or at once, when a request needs it first); one that
 * cannot be reset (its memory or a table grew, or its code has state that cannot be exported) is
 * dropped, and a spare is made in its place when the worker next has nothing else to do. Neither
 * is charged to a request's CPU budget: resets run outside the meter, spares under ids of their own.
 */
export class AppPool {
  readonly code: Code;
  readonly fresh: boolean;
  readonly #idle: Instance[] = [];
  readonly #dirty: Instance[] = [];
  /** Instances serving a request now. */
  readonly #lent = new Set<Instance>();
  #resetScheduled = false;
  #spareScheduled = false;
  /** The most instances a request asked for (see acquire); spares stay within it. */
  #limit = 1;
  /** Wall-clock milliseconds the last instance's start code took (compiling not included). */
  #createMs = 0;
  /** Bytes of linear memory the last instance started with. */
  #instanceBytes = 0;
  /** The worker sat idle long enough with requests waiting: the next waiter makes an instance. */
  #mayGrow = false;
  #growTimer: NodeJS.Timeout | undefined;
  #live = 0;
  #creating = 0;
  /** Out of `pools`: its instances no longer count as live (busy ones finish regardless). */
  #dropped = false;
  readonly #waiters: (() => void)[] = [];
  lastUsed = Date.now();

  constructor(code: Code, fresh: boolean) {
    this.code = code;
    this.fresh = fresh;
  }

  get world(): ComponentInfo["world"] {
    return this.code.info.world;
  }
  get live(): number {
    return this.#live;
  }

  /**
   * An idle instance, or a new one once the worker has sat idle, with requests of this app waiting,
   * for a share of the time making an instance takes: half for a large instance, down to a tenth
   * for a small one (see #watchIdle). A worker runs one guest at a time: while it has guest code
   * to run, another instance would only interleave with the busy ones on the same thread and cost
   * memory and cache (StarlingMonkey hello went from 962 to 1,241 req/s when instances stopped
   * piling up, the KV counter from 440-652 to 756-816). Idle time with requests waiting means every
   * instance is waiting on something (KV, a body, a timer, an outgoing call) and another would put
   * the thread to use. For a large instance a short wait on a fast store (a Redis round trip) is
   * not worth one; a small one (a fast-world guest's 1.4 MiB) is (its Redis counter did 19-34%
   * more). Guests that wait long get one after the next, up to `limit`. The first instance is made
   * at once.
   */
  /**
   * An instance for request `id`: an idle one, a new one while the app may have more, else the
   * next to free up. Waiting longer than `maxWaitMs` in all throws QueueTimeout.
   */
  async acquire(id: number, limit: number, maxWaitMs = Number.POSITIVE_INFINITY): Promise<Instance> {
    this.#limit = limit;
    const until = performance.now() + maxWaitMs;
    for (;;) {
      const idle = this.take(id);
      if (idle) return idle;
      if (this.#creating === 0 && this.#live < limit && (this.#live === 0 || this.#mayGrow)) break;
      this.#watchIdle(limit);
      const left = until - performance.now();
      if (left <= 0) throw new QueueTimeout(maxWaitMs);
      let timer: NodeJS.Timeout | undefined;
      let wake: (() => void) | undefined;
      const woken = await new Promise<boolean>((resolve) => {
        wake = () => resolve(true);
        this.#waiters.push(wake);
        if (Number.isFinite(left)) timer = setTimeout(() => resolve(false), left);
      });
      clearTimeout(timer);
      if (!woken) {
        // Give up our place, so the next wake-up goes to a request still waiting.
        const at = this.#waiters.indexOf(wake!);
        if (at !== -1) this.#waiters.splice(at, 1);
        throw new QueueTimeout(maxWaitMs);
      }
    }
    this.#mayGrow = false;
    this.#addLive(1);
    this.#creating++;
    try {
      const instance = await this.#create(id);
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

  /**
   * An idle instance, lent at once, or undefined (then `acquire` waits for or makes one). A fresh
   * pool with none idle resets one that has served its request, rather than wait for that.
   */
  take(id: number): Instance | undefined {
    this.lastUsed = Date.now();
    const idle = this.#idle.pop();
    if (idle) return this.#lend(idle, id);
    for (let dirty = this.#dirty.pop(); dirty; dirty = this.#dirty.pop()) {
      if (this.#reset(dirty)) return this.#lend(dirty, id);
    }
    return undefined;
  }

  /**
   * While requests wait for an instance, looks at how long the worker's event loop sat idle over
   * the time making an instance takes; past a share of it (half for a large instance, a tenth for
   * a small one), the next waiter makes one.
   */
  #watchIdle(limit: number): void {
    // Idle time while an instance is being made is the compiler's, not guests' waiting.
    if (this.#growTimer || this.#creating > 0 || this.#live >= limit) return;
    const window = Math.min(GROW_WINDOW_MAX_MS, Math.max(GROW_WINDOW_MIN_MS, this.#createMs));
    const idleAtStart = performance.eventLoopUtilization().idle;
    this.#growTimer = setTimeout(() => {
      this.#growTimer = undefined;
      if (this.#waiters.length === 0 || this.#dropped || this.#creating > 0) return;
      const share = Math.min(
        GROW_IDLE_MAX_SHARE,
        Math.max(GROW_IDLE_MIN_SHARE, this.#instanceBytes / GROW_IDLE_LARGE_BYTES),
      );
      if (performance.eventLoopUtilization().idle - idleAtStart >= window * share) {
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
    this.#lent.add(instance);
    return instance;
  }

  /**
   * An instance back from a request (or never used, `uses` 0). `reusable` false (a trap, a
   * cancelled call) drops it. A fresh pool resets a used one before anyone gets it again.
   */
  release(instance: Instance, reusable: boolean, maxUses: number): void {
    this.#lent.delete(instance);
    const uses = this.fresh ? Math.min(maxUses, RESETS_PER_INSTANCE) : maxUses;
    if (!reusable || instance.uses >= uses || (this.fresh && instance.uses > 0 && !instance.image)) {
      this.#addLive(-1);
      if (this.fresh) this.#prepareSpare();
    } else if (this.fresh && instance.uses > 0) {
      this.#dirty.push(instance);
      this.#scheduleReset();
      this.#mayGrow = false;
    } else {
      instance.idleSince = Date.now();
      this.#idle.push(instance);
      // One freed up: the pool was not short after all.
      this.#mayGrow = false;
    }
    this.#waiters.shift()?.();
  }

  /** Puts a used instance back to its first state; false (and it is dropped) when it cannot. */
  #reset(instance: Instance): boolean {
    if (instance.image?.restore()) {
      instance.idleSince = Date.now();
      return true;
    }
    this.#addLive(-1);
    this.#prepareSpare();
    return false;
  }

  /**
   * Resets the instances that served a request once this turn's answers have gone (the outbox
   * sends them in an earlier setImmediate), so a reset never delays the answer it follows.
   */
  #scheduleReset(): void {
    if (this.#resetScheduled) return;
    this.#resetScheduled = true;
    setImmediate(() => {
      this.#resetScheduled = false;
      for (let dirty = this.#dirty.pop(); dirty; dirty = this.#dirty.pop()) {
        if (this.#reset(dirty)) this.#idle.push(dirty);
      }
    });
  }

  /**
   * Makes a new instance in place of one a fresh pool dropped, when the worker is next idle: after
   * the messages that arrived meanwhile have been taken in, with no request of this pool waiting
   * (a waiter makes its own), none idle to spare, and within the pool's size and the memory
   * budget. It is metered under an id of its own, so no request's budget pays for it.
   */
  #prepareSpare(later = false): void {
    if (this.#spareScheduled || this.#dropped) return;
    this.#spareScheduled = true;
    const run = () => {
      this.#spareScheduled = false;
      if (this.#dropped || this.#waiters.length > 0 || this.#creating > 0) return;
      if (this.#idle.length + this.#dirty.length > 0 || this.#live >= this.#limit) return;
      // A guest is running or waits for its turn: look again in a while.
      if (!meter.idle) return this.#prepareSpare(true);
      const id = nextSpareId--;
      this.#addLive(1);
      this.#creating++;
      this.#create(id)
        .then((instance) => {
          if (this.#dropped) return;
          instance.idleSince = Date.now();
          this.#idle.push(instance);
        })
        .catch(() => this.#addLive(-1))
        .finally(() => {
          this.#creating--;
          meter.leave(id);
          this.#waiters.shift()?.();
        });
    };
    if (later) setTimeout(run, SPARE_RETRY_MS).unref();
    else setImmediate(run);
  }

  /** Instances serving a request right now. */
  get busy(): number {
    return this.#live - this.#idle.length - this.#dirty.length;
  }

  /**
   * Rough memory it holds: its instances' memories as they are now (one serving a request may
   * grow; the budget is checked again every BUDGET_CHECK_MS), the images they do not share, those
   * being made as large as the last one started, and the app's own overhead. The code and the
   * shared images are counted once, in `codes` and sharedBytes.
   */
  estimateBytes(): number {
    let bytes = APP_OVERHEAD_BYTES + this.#creating * this.#instanceBytes;
    for (const list of [this.#idle, this.#dirty, this.#lent]) {
      for (const instance of list) {
        for (const memory of instance.memories) bytes += memory.buffer.byteLength;
        bytes += instance.image?.ownBytes ?? 0;
      }
    }
    return bytes;
  }

  /** Drops instances idle since before `cutoff` (the code stays loaded). */
  sweep(cutoff: number): void {
    for (let i = this.#idle.length - 1; i >= 0; i--) {
      if (this.#idle[i]!.idleSince < cutoff) {
        this.#idle.splice(i, 1);
        this.#addLive(-1);
      }
    }
  }

  /**
   * Whether the pool may be unloaded as idle: no request since `cutoff`, none running, none
   * waiting and no instance being made. A request running on a dropped pool would finish
   * regardless, but this never drops one in flight.
   */
  idleSince(cutoff: number): boolean {
    return this.lastUsed < cutoff && this.busy === 0 && this.#creating === 0 && this.#waiters.length === 0;
  }

  get dropped(): boolean {
    return this.#dropped;
  }

  /** Called when the pool is taken out of `pools`. */
  drop(): void {
    if (this.#dropped) return;
    this.#dropped = true;
    stats.instances(-this.#live);
    if (--this.code.users === 0) {
      codes.delete(this.code.key);
      this.code.release();
    }
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
      states: IDLE_STATES,
      memories: [],
      requestId: 0,
      uses: 0,
      idleSince: 0,
      image: undefined,
    };
    instance.output = new GuestOutput(GUEST_OUTPUT_LIMIT, (stream, line) =>
      post({ type: "log", id: instance.requestId, stream, line }),
    );
    const getCoreModule = (name: string) => code.coreModule(name);
    const cores: WebAssembly.Instance[] = [];
    // Keep the instance's memories, to tell an out-of-memory trap from others.
    const instantiateCore = async (module: WebAssembly.Module, imports?: WebAssembly.Imports) => {
      if (imports) for (const c of CAPABILITIES) c.linkCore?.(imports);
      const core = await WebAssembly.instantiate(module, imports);
      cores.push(core);
      for (const value of Object.values(core.exports)) {
        if (value instanceof WebAssembly.Memory) instance.memories.push(value);
      }
      return core;
    };
    const imports: Record<string, object> = {};
    CAPABILITIES.forEach((c, i) => {
      if (!code.importsNeeded[i]) return;
      Object.assign(
        imports,
        c.imports({
          current: () => instance.states[i],
          services,
          output: instance.output,
          revision: code.info.revisions?.[c.name],
        }),
      );
    });
    // Compile first (not guest code, and it waits); then run the component's start code metered.
    await Promise.all(code.info.files.filter((f) => f.endsWith(".wasm")).map(getCoreModule));
    await meter.begin(id, INSTANTIATE_CPU_MS);
    const started = performance.now();
    const exports = await instantiate(getCoreModule, imports, instantiateCore);
    this.#createMs = performance.now() - started;
    this.#instanceBytes = instance.memories.reduce((n, memory) => n + memory.buffer.byteLength, 0);
    const handler = exports[code.info.handlerExport];
    if (!handler) throw new Error(`the component has no export ${code.info.handlerExport}`);
    instance.handler = handler;
    // The state it starts in, before any request: what a reset puts back.
    if (this.fresh && code.resettable) instance.image = new InstanceImage(cores, code.images);
    stats.instanceCreated();
    enforceBudget();
    return instance;
  }
}

export const pools = new Map<string, AppPool>();

export const deployments = new Map<string, WireDeployment>();

/**
 * The pool of one app's instances of a deployment: keyed by the deployment (its digest), the
 * memory cap its code was compiled under, and the app it serves.
 */
export function poolFor(
  deployment: WireDeployment,
  memoryBytes: number,
  owner: string,
  perRequest: boolean,
): AppPool {
  // A fetch-event guest answers once per instance: it gets fresh instances whatever the app says.
  const fresh = perRequest || deployment.info.singleUse;
  const key = `${deployment.key}:${memoryBytes}:${fresh ? "fresh" : "reuse"}:${owner}`;
  let pool = pools.get(key);
  if (!pool) {
    pool = new AppPool(codeFor(deployment, memoryBytes), fresh);
    pools.set(key, pool);
  }
  return pool;
}

/** Who a pool's instances serve: one app of one tenant (names hold no newline). */
export function ownerOf(tenant: string, app: string): string {
  return `${tenant}\n${app}`;
}

/**
 * Keeps the loaded deployments within this worker's memory budget: past it, the least recently
 * used pools with nothing in flight are dropped (their code and instances are collected; a later
 * request loads them again).
 */
export function enforceBudget(): void {
  let total = sharedBytes();
  for (const pool of pools.values()) total += pool.estimateBytes();
  for (const code of codes.values()) total += code.estimateBytes();
  if (total <= workerConfig.memoryBudgetBytes) return;
  const idle = [...pools.entries()]
    .filter(([, p]) => p.busy === 0)
    .sort(([, a], [, b]) => a.lastUsed - b.lastUsed);
  for (const [key, pool] of idle) {
    if (total <= workerConfig.memoryBudgetBytes) break;
    total -= pool.estimateBytes();
    // Code goes with the last pool that uses it, and shared code with the last code holding it.
    if (pool.code.users === 1) total -= pool.code.estimateBytes() + pool.code.sharedFreed();
    pool.drop();
    pools.delete(key);
    post({ type: "unloaded", key, reason: "budget" });
  }
}

// Instances grow their memories while they serve: look at the budget now and then, besides
// whenever an instance is made.
setInterval(enforceBudget, BUDGET_CHECK_MS).unref();

// Idle instances are dropped after instanceIdleMs, idle apps (code too) unloaded after
// unloadIdleMs; either comes back on the next request.
const { instanceIdleMs, unloadIdleMs } = workerConfig;
const sweepMs = Math.min(SWEEP_MAX_MS, Math.max(SWEEP_MIN_MS, Math.min(instanceIdleMs, unloadIdleMs) / 4));
setInterval(() => {
  const now = Date.now();
  for (const [key, pool] of pools) {
    if (pool.idleSince(now - unloadIdleMs)) {
      pool.drop();
      pools.delete(key);
      post({ type: "unloaded", key, reason: "idle" });
    } else pool.sweep(now - instanceIdleMs);
  }
}, sweepMs).unref();
