// One request in a worker: its app's pool gives it an instance, each capability gets the request's
// state, the guest runs metered, and its answer, stop or failure goes back to the main thread.

import { beginStates, endStates, forApps, IDLE_STATES } from "../capabilities/index.ts";
import {
  ByteQueue,
  IncomingRequest,
  type IncomingRequestInit,
  ResponseOutparam,
} from "../capabilities/wasi/index.ts";
import type { RuntimeErrorCode } from "../errors.ts";
import { firstCallAllowanceMs, STREAM_WINDOW } from "../limits.ts";
import type { WireAccess, WireDeployment, WireLimits, WireRequest } from "../protocol.ts";
import {
  type AppPool,
  deployments,
  type EdgeHandler,
  type HttpHandler,
  type Instance,
  ownerOf,
  poolFor,
  QueueTimeout,
} from "./app-pool.ts";
import { GuestStopped } from "./cpu-meter.ts";
import { meter, post, services } from "./env.ts";
import { Sink } from "./sink.ts";

interface Running {
  pool: AppPool;
  sink: Sink;
  body: ByteQueue | undefined;
  cancel(reason: string): void;
}
export const running = new Map<number, Running>();
const NO_BYTES = new Uint8Array(0);

export function fail(id: number, code: RuntimeErrorCode, message: string): void {
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

/**
 * A request's cancellation (deadline, client gone, CPU spent at a wait): its reason once
 * cancelled, a promise that rejects then (made only if the guest waits on something), and the
 * guest's call raced against it.
 */
class Cancellation {
  reason: string | undefined;
  /** Set when the meter stopped the guest for CPU at one of its waits. */
  overBudget = false;
  #promise: Promise<never> | undefined;
  #rejectPromise: ((err: GuestStopped) => void) | undefined;
  #rejectCall: ((err: GuestStopped) => void) | undefined;

  get promise(): Promise<never> {
    if (!this.#promise) {
      this.#promise = new Promise<never>((_, reject) => {
        this.#rejectPromise = reject;
      });
      this.#promise.catch(() => {});
      const stopped = this.#stopped();
      if (stopped) this.#rejectPromise!(stopped);
    }
    return this.#promise;
  }

  /**
   * `call`'s outcome, or the stop if it comes first. A guest stopped while it waits is never
   * resumed (jco abandons a host call that throws), so its call would never settle. One promise
   * and no race: this is on every request's path.
   */
  race<T>(call: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const stopped = this.#stopped();
      if (stopped) reject(stopped);
      else this.#rejectCall = reject;
      call.then(resolve, reject);
    });
  }

  cancel(reason: string): void {
    if (this.reason !== undefined || this.overBudget) return;
    this.reason = reason;
    this.#stop(new GuestStopped("cancelled", reason));
  }

  stopForCpu(): void {
    if (this.reason !== undefined || this.overBudget) return;
    this.overBudget = true;
    this.#stop(new GuestStopped("cpu", "the guest used more CPU time than its limit"));
  }

  #stopped(): GuestStopped | undefined {
    if (this.reason !== undefined) return new GuestStopped("cancelled", this.reason);
    if (this.overBudget) return new GuestStopped("cpu", "the guest used more CPU time than its limit");
    return undefined;
  }

  #stop(err: GuestStopped): void {
    this.#rejectPromise?.(err);
    this.#rejectCall?.(err);
  }
}

/** What the requests of one app run with (see the "context" message), worked out once. */
export interface Context {
  limits: WireLimits;
  access: WireAccess;
  /** The app the requests are for (see ownerOf): its own instances serve them. */
  owner: string;
  /** Each capability's view of the app, in registry order. */
  apps: unknown[];
  last?: { deployment: WireDeployment; pool: AppPool };
}
export const contexts = new Map<number, Context>();

export function openContext(limits: WireLimits, access: WireAccess): Context {
  return {
    limits,
    access,
    owner: ownerOf(access.tenant, access.app),
    apps: forApps(access, limits),
  };
}

/** The pool a context's requests of a deployment use, remembered so most requests build no key. */
function contextPool(context: Context, deployment: WireDeployment): AppPool {
  const last = context.last;
  if (last?.deployment === deployment && !last.pool.dropped) return last.pool;
  const pool = poolFor(
    deployment,
    context.limits.memoryBytes,
    context.owner,
    context.limits.instances === "per-request",
  );
  context.last = { deployment, pool };
  return pool;
}

/** Loads a deployment and starts one idle instance of an app ahead of its first request. */
export async function warm(id: number, key: string, limits: WireLimits, owner: string): Promise<void> {
  const deployment = deployments.get(key);
  try {
    if (!deployment) return;
    const pool = poolFor(deployment, limits.memoryBytes, owner, limits.instances === "per-request");
    if (pool.live > 0) return;
    // Never used, so still fresh: kept even by a pool that gives each request a fresh one.
    pool.release(await pool.acquire(id, limits.maxInstances), true, limits.maxUses);
  } catch {
    // The first real request reports whatever went wrong.
  } finally {
    post({ type: "warmed", id });
  }
}

export async function invoke(id: number, deploymentKey: string, request: WireRequest, context: Context) {
  const { limits } = context;
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
    body.exclusive = true;
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
  const states = beginStates(context.apps, limits, services, pool.code.statesNeeded);
  running.set(id, {
    pool,
    sink,
    body,
    cancel(reason) {
      cancellation.cancel(reason);
      body?.end(reason);
      endStates(states, new GuestStopped("cancelled", reason));
    },
  });

  // Most requests find an idle instance: take it without a turn of the event loop.
  let instance = pool.take(id);
  if (!instance) {
    try {
      instance = await pool.acquire(id, limits.maxInstances, limits.maxQueueMs);
    } catch (err) {
      running.delete(id);
      if (err instanceof QueueTimeout) {
        fail(
          id,
          "ERR_RUNTIME_OVERLOADED",
          `every instance of the app stayed busy for ${err.waitedMs} ms (--max-queue-ms); retry after a second`,
        );
      } else fail(id, "ERR_RUNTIME_INSTANTIATE", `the component could not be instantiated: ${message(err)}`);
      return;
    }
  }
  if (cancellation.reason !== undefined) {
    running.delete(id);
    pool.release(instance, true, limits.maxUses);
    return;
  }
  instance.states = states;
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
    const call =
      whole === undefined
        ? callHttp(instance, { ...request, body: body ?? ByteQueue.of(inline) }, sink)
        : callEdge(instance, request, whole, sink);
    // The request ends without the call if the guest is stopped while it waits.
    answered = await cancellation.race(call);
  } catch (err) {
    threw = true;
    failure = err;
  }
  const overBudget = meter.leave(id);
  endStates(states, undefined);
  instance.states = IDLE_STATES;
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
  // mid-way: never reuse either. A fresh pool resets the others before their next request.
  const reusable = !trapped && cancelled === undefined && !overgrown(instance, limits);
  pool.release(instance, reusable, limits.maxUses);
}

/** The standard world: the guest answers through response-outparam and streams its body. */
async function callHttp(instance: Instance, init: IncomingRequestInit, sink: Sink): Promise<boolean> {
  const out = new ResponseOutparam(sink);
  await (instance.handler as HttpHandler).handle(new IncomingRequest(init), out);
  return out.isSet;
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

export function message(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0]!.slice(0, 300);
}
