// Guest CPU accounting shared between a worker (worker/cpu-meter.ts) and the main thread's watchdog
// (host/watchdog.ts): the layout of the slot each worker writes and the watchdog reads.
//
// A worker runs one guest at a time. Guests are charged the worker thread's real CPU time while
// their code runs; time they spend suspended (awaiting host I/O through JSPI) is not charged.
// Whenever a guest suspends or finishes, the worker compares its CPU with its budget and stops it
// if it is over: precise, and no other request is affected. A guest that never suspends (a wasm
// loop) cannot be stopped from inside, so while a guest runs the shared slot holds its request id,
// the thread's CPU clock when it resumed, its remaining budget and a wall-clock deadline. Past the
// deadline the main thread's watchdog reads the worker thread's real CPU time (Linux: from /proc)
// and terminates the worker only if the guest really used more than its budget; wall time alone
// overstates CPU on a busy machine, and a false kill fails every request sharing the worker.

// Where each field lives: `ids` holds the running request (0: none) and the worker's OS thread id;
// `times` the deadlines, the thread's CPU clock when the guest resumed, and its remaining budget.
export const ID = 0;
export const TID = 1;
export const DEADLINE = 0;
export const CPU_AT_ENTER = 1;
export const LEFT = 2;
export const HARD_DEADLINE = 3;
/** Wall-clock time the running guest last resumed. */
export const ENTERED = 4;

/**
 * Where the thread's CPU time cannot be read (no /proc), a guest running uninterrupted this many
 * times its remaining budget (wall clock) is taken to have overrun it: wall time is all there is.
 * Where it can be read, only CPU counts, and a thread that is not scheduled is never stopped for CPU.
 */
export const WALL_FACTOR = 1.5;

/**
 * Wall-clock time a guest may run without yielding, whatever CPU it used, before its worker is
 * recycled as stalled (ERR_RUNTIME_STALLED): far above any CPU budget, so only a wedged worker or a
 * host that stopped scheduling it for that long reaches it.
 */
export const DEFAULT_STALL_MS = 2000;

/**
 * Wall-clock time a guest may run uninterrupted beyond its remaining CPU budget before the watchdog
 * checks its real CPU (or, where that cannot be read, terminates its worker).
 */
export const WATCHDOG_GRACE_MS = 15;

/** Milliseconds since the epoch, comparable across threads. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

// /proc reports CPU in clock ticks of 10 ms (USER_HZ 100 on Linux); allow one tick of rounding.
export const TICK_MS = 10;

export interface CpuSlot {
  ids: Int32Array;
  times: Float64Array;
}

export function createCpuSlot(): { buffer: SharedArrayBuffer; slot: CpuSlot } {
  const buffer = new SharedArrayBuffer(48);
  return { buffer, slot: openCpuSlot(buffer) };
}

export function openCpuSlot(buffer: SharedArrayBuffer): CpuSlot {
  return { ids: new Int32Array(buffer, 0, 2), times: new Float64Array(buffer, 8, 5) };
}
