// Counters the guest workers keep for the gateway's metrics, in memory shared with the main thread:
// a worker adds to its own block with Atomics, the main thread reads every block when it is asked.
// Nothing is sent per request, the counts are exact at any moment, and a terminated worker's block
// stays readable, so what it counted before a CPU-limit kill is not lost.

// The errors module alone: a worker must not load the Redis client before it needs it.
import { isKvError, KV_ERROR_CODES, type KvErrorCode, type KvStore } from "../kv/index.ts";

/** The store calls guests make, as the metrics label them. */
export const KV_OPS = [
  "get",
  "getWithMetadata",
  "set",
  "delete",
  "exists",
  "listKeys",
  "increment",
  "compareAndSwap",
  "getMany",
  "setMany",
  "deleteMany",
] as const satisfies readonly (keyof KvStore)[];
export type KvOp = (typeof KV_OPS)[number];

const INSTANCES_LIVE = 0;
const INSTANCES_CREATED = 1;
const KV_OPS_AT = 2;
const KV_ERRORS_AT = KV_OPS_AT + KV_OPS.length;
const SIZE = KV_ERRORS_AT + KV_ERROR_CODES.length;
const OP_INDEX = new Map<string, number>(KV_OPS.map((op, i) => [op, KV_OPS_AT + i]));
const ERROR_INDEX = new Map<string, number>(KV_ERROR_CODES.map((code, i) => [code, KV_ERRORS_AT + i]));

/** What the runtime reports for the gateway's /metrics and /readyz. */
export interface RuntimeStats {
  /** Guest worker threads in service, and how many of them have booted. */
  workers: number;
  workersReady: number;
  /** The runtime was closed (the gateway is shutting down). */
  closed: boolean;
  /** Component instances alive in the workers (idle or serving). */
  instancesLive: number;
  /** Component instances created since start (each is a cold start). */
  instancesCreated: number;
  /** Requests stopped for going over their CPU budget (worker terminated or guest stopped). */
  cpuLimitKills: number;
  /** Workers recycled because a guest ran too long without yielding (ERR_RUNTIME_STALLED). */
  stalls: number;
  /** Requests refused at once because their app or tenant had too many in flight (ERR_RUNTIME_OVERLOADED). */
  shed: number;
  /** The same, by app: `<tenant>/<app>` (app names are unique within a tenant only). */
  shedByApp: Record<string, number>;
  /** Requests in flight (waiting or running), by app: `<tenant>/<app>`. */
  inFlightByApp: Record<string, number>;
  /** Workers replaced since start (CPU-limit kills and crashes). */
  workerRestarts: number;
  /** Store calls guests made, by operation. */
  kvOperations: Record<KvOp, number>;
  /** Store calls that failed, by error code. */
  kvErrors: Record<KvErrorCode, number>;
}

/** A worker's block of counters, created on the main thread and passed in workerData. */
export function createStatsBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer(SIZE * BigInt64Array.BYTES_PER_ELEMENT);
}

/** The worker's side: adds to its own block. */
export class WorkerStats {
  readonly #cells: BigInt64Array;
  constructor(buffer: SharedArrayBuffer) {
    this.#cells = new BigInt64Array(buffer);
  }
  instances(delta: number): void {
    if (delta !== 0) Atomics.add(this.#cells, INSTANCES_LIVE, BigInt(delta));
  }
  instanceCreated(): void {
    Atomics.add(this.#cells, INSTANCES_CREATED, 1n);
  }
  kvOp(op: KvOp): void {
    Atomics.add(this.#cells, OP_INDEX.get(op)!, 1n);
  }
  kvError(code: string): void {
    Atomics.add(this.#cells, ERROR_INDEX.get(code) ?? ERROR_INDEX.get("ERR_KV_INTERNAL")!, 1n);
  }
}

/**
 * Wraps the worker's store so every call guests make is counted by operation, and every failure by
 * its code. Budget refusals never reach the store; keyvalue.ts reports those itself.
 */
export function countingKvStore(store: KvStore, stats: WorkerStats): KvStore {
  const failed = (err: unknown) => {
    stats.kvError(isKvError(err) ? err.code : "ERR_KV_INTERNAL");
    throw err;
  };
  /** `calls` with each of KV_OPS counted: a promise's failure when it settles, a throw at once. */
  const counting = <T extends object>(calls: T): T => {
    const counted = Object.create(calls) as Record<string, unknown>;
    for (const op of KV_OPS) {
      const call = ((calls as Record<string, unknown>)[op] as (...args: unknown[]) => unknown).bind(calls);
      const countedCall = (...args: unknown[]) => {
        stats.kvOp(op);
        let answer: unknown;
        try {
          answer = call(...args);
        } catch (err) {
          failed(err);
        }
        return answer instanceof Promise ? answer.catch(failed) : answer;
      };
      // Defined, not assigned: `calls` may be frozen, and an inherited read-only property refuses
      // assignment.
      Object.defineProperty(counted, op, { value: countedCall, enumerable: true });
    }
    return counted as T;
  };
  const counted = counting(store);
  if (store.sync) Object.defineProperty(counted, "sync", { value: Object.freeze(counting(store.sync)) });
  return counted;
}

/**
 * The main thread's side: sums the blocks of the workers alive, plus the counters of those that
 * have exited (folded in once they are gone, when nothing can add to them any more).
 */
export class StatsTotals {
  readonly #exited = new Float64Array(SIZE);

  fold(buffer: SharedArrayBuffer): void {
    const cells = new BigInt64Array(buffer);
    // Instances of an exited worker are gone: only counters carry over.
    for (let i = INSTANCES_CREATED; i < SIZE; i++) this.#exited[i]! += Number(Atomics.load(cells, i));
  }

  sum(
    live: Iterable<{ buffer: SharedArrayBuffer; retired: boolean }>,
  ): Pick<RuntimeStats, "instancesLive" | "instancesCreated" | "kvOperations" | "kvErrors"> {
    const total = Float64Array.from(this.#exited);
    for (const { buffer, retired } of live) {
      const cells = new BigInt64Array(buffer);
      if (!retired) total[INSTANCES_LIVE]! += Number(Atomics.load(cells, INSTANCES_LIVE));
      for (let i = INSTANCES_CREATED; i < SIZE; i++) total[i]! += Number(Atomics.load(cells, i));
    }
    return {
      instancesLive: total[INSTANCES_LIVE]!,
      instancesCreated: total[INSTANCES_CREATED]!,
      kvOperations: Object.fromEntries(KV_OPS.map((op) => [op, total[OP_INDEX.get(op)!]!])) as Record<
        KvOp,
        number
      >,
      kvErrors: Object.fromEntries(
        KV_ERROR_CODES.map((code) => [code, total[ERROR_INDEX.get(code)!]!]),
      ) as Record<KvErrorCode, number>,
    };
  }
}
