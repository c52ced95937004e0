// Guest CPU accounting shared between a worker and the main thread's watchdog.
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

import { readFileSync } from "node:fs";

const ID = 0;
const TID = 1;
const DEADLINE = 0;
const CPU_AT_ENTER = 1;
const LEFT = 2;
const HARD_DEADLINE = 3;

/**
 * However the CPU reads, a guest running uninterrupted this many times its remaining budget (wall
 * clock) is stopped. A backstop: where /proc can be read, a loop is caught by its CPU first (at
 * its budget plus a tick); on a busy machine, where it gets a fraction of a core, this bounds how
 * long it can take. A healthy 10 ms call would have to wait 65 ms for a core to be cut short.
 */
export const WALL_FACTOR = 1.5;

/**
 * Wall-clock time a guest may run uninterrupted beyond its remaining CPU budget before the watchdog
 * checks its real CPU (or, where that cannot be read, terminates its worker).
 */
export const WATCHDOG_GRACE_MS = 15;

/** Milliseconds since the epoch, comparable across threads. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

function threadCpuMs(): number {
  const { user, system } = process.threadCpuUsage();
  return (user + system) / 1000;
}

/** The kernel's id of the calling thread, or 0 where /proc does not tell. */
function osThreadId(): number {
  try {
    return Number(readFileSync("/proc/thread-self/stat", "utf8").split(" ", 1)[0]) || 0;
  } catch {
    return 0;
  }
}

// /proc reports CPU in clock ticks of 10 ms (USER_HZ 100 on Linux); allow one tick of rounding.
const TICK_MS = 10;

/** CPU milliseconds a thread of this process has used, read from /proc, or undefined. */
function procThreadCpuMs(tid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return undefined;
  }
}

export interface CpuSlot {
  ids: Int32Array;
  times: Float64Array;
}

export function createCpuSlot(): { buffer: SharedArrayBuffer; slot: CpuSlot } {
  const buffer = new SharedArrayBuffer(40);
  return { buffer, slot: openCpuSlot(buffer) };
}

export function openCpuSlot(buffer: SharedArrayBuffer): CpuSlot {
  return { ids: new Int32Array(buffer, 0, 2), times: new Float64Array(buffer, 8, 4) };
}

/**
 * Main thread: the request whose guest has run uninterrupted past its deadline at `at` and, where
 * the worker thread's CPU can be read, has really used more than its remaining budget; or 0.
 */
export function overrun(slot: CpuSlot, at: number): number {
  const id = Atomics.load(slot.ids, ID);
  if (id === 0 || at <= slot.times[DEADLINE]!) return 0;
  if (at > slot.times[HARD_DEADLINE]!) return Atomics.load(slot.ids, ID) === id ? id : 0;
  const cpuAtEnter = slot.times[CPU_AT_ENTER]!;
  const left = slot.times[LEFT]!;
  const tid = Atomics.load(slot.ids, TID);
  if (tid !== 0) {
    const cpu = procThreadCpuMs(tid);
    if (cpu !== undefined && cpu - cpuAtEnter <= left + TICK_MS) return 0;
  }
  return Atomics.load(slot.ids, ID) === id ? id : 0;
}

/** Thrown into a guest's pending host call when it must stop (CPU budget, deadline, client gone). */
export class GuestStopped extends Error {
  readonly reason: "cpu" | "cancelled";
  constructor(reason: "cpu" | "cancelled", message: string) {
    super(message);
    this.reason = reason;
  }
}

/**
 * Worker side: charges guest CPU to the request whose guest code is running.
 *
 * Guests take turns through a baton: a guest holds it while its code runs and gives it up when it
 * suspends or finishes; a suspended guest takes it back before it resumes. JSPI resumes a guest in
 * a promise job, and without the baton several resumptions could interleave in one microtask burst,
 * so the meter would credit one guest's CPU to another, or show a suspended guest as running.
 */
export class CpuMeter {
  readonly #slot: CpuSlot;
  readonly #used = new Map<number, number>();
  readonly #budget = new Map<number, number>();
  readonly #aborts = new Map<number, { readonly promise: Promise<never> }>();
  #current = 0;
  #cpuSince = 0;
  #holder = 0;
  readonly #turns: (() => void)[] = [];
  readonly #beforeGuestRuns: () => void;

  /** `beforeGuestRuns` is called each time a guest is about to start or resume. */
  constructor(slot: CpuSlot, beforeGuestRuns: () => void = () => {}) {
    this.#slot = slot;
    this.#beforeGuestRuns = beforeGuestRuns;
    Atomics.store(slot.ids, TID, osThreadId());
  }

  /**
   * Takes the baton for `id` and starts charging it: at once when no other guest runs (returns
   * undefined), or once it has had its turn (returns a promise).
   */
  begin(id: number, budgetMs: number): Promise<void> | undefined {
    if (this.#holder !== 0 && this.#holder !== id) {
      return this.#acquire(id).then(() => this.#start(id, budgetMs));
    }
    this.#holder = id;
    this.#start(id, budgetMs);
    return undefined;
  }

  #start(id: number, budgetMs: number): void {
    this.#budget.set(id, budgetMs);
    this.#used.set(id, 0);
    this.#enter(id);
  }

  async #acquire(id: number): Promise<void> {
    while (this.#holder !== 0 && this.#holder !== id) {
      await new Promise<void>((resolve) => this.#turns.push(resolve));
    }
    this.#holder = id;
  }

  #release(id: number): void {
    if (this.#holder !== id) return;
    this.#holder = 0;
    this.#turns.shift()?.();
  }

  #enter(id: number): void {
    this.#pause();
    this.#beforeGuestRuns();
    this.#current = id;
    this.#cpuSince = threadCpuMs();
    const left = Math.max(0, (this.#budget.get(id) ?? Number.POSITIVE_INFINITY) - (this.#used.get(id) ?? 0));
    const times = this.#slot.times;
    times[CPU_AT_ENTER] = this.#cpuSince;
    times[LEFT] = left;
    const at = now();
    times[DEADLINE] = at + left + WATCHDOG_GRACE_MS;
    times[HARD_DEADLINE] = at + left * WALL_FACTOR + WATCHDOG_GRACE_MS;
    Atomics.store(this.#slot.ids, ID, id);
  }

  #pause(): void {
    if (this.#current === 0) return;
    Atomics.store(this.#slot.ids, ID, 0);
    const id = this.#current;
    this.#used.set(id, (this.#used.get(id) ?? 0) + (threadCpuMs() - this.#cpuSince));
    this.#current = 0;
  }

  /** Milliseconds of CPU `id` has used so far. */
  used(id: number): number {
    return (this.#used.get(id) ?? 0) + (this.#current === id ? threadCpuMs() - this.#cpuSince : 0);
  }

  /** Whether `id` has used more CPU than its budget. */
  over(id: number): boolean {
    return this.used(id) > (this.#budget.get(id) ?? Number.POSITIVE_INFINITY);
  }

  /**
   * The guest of `id` returned or trapped: stop charging it, pass the baton on, forget it. Returns
   * whether it used more CPU than its budget.
   */
  leave(id: number): boolean {
    if (this.#current === id) this.#pause();
    const over = (this.#used.get(id) ?? 0) > (this.#budget.get(id) ?? Number.POSITIVE_INFINITY);
    this.#release(id);
    this.#used.delete(id);
    this.#budget.delete(id);
    this.#aborts.delete(id);
    return over;
  }

  /** While `id` runs, its waits reject as soon as `cancellation.promise` does (a deadline or a cancel). */
  abortWith(id: number, cancellation: { readonly promise: Promise<never> }): void {
    this.#aborts.set(id, cancellation);
  }

  /**
   * Awaits host I/O on behalf of the running guest: it is not charged while it waits, other guests
   * may run, and it takes the baton back before it continues. A guest already over its budget is
   * stopped here instead.
   */
  async wait<T>(promise: Promise<T>): Promise<T> {
    const id = this.#holder;
    if (id === 0) return promise;
    const aborted = this.#aborts.get(id)?.promise;
    this.#pause();
    if (this.over(id)) throw new GuestStopped("cpu", "the guest used more CPU time than its limit");
    this.#release(id);
    try {
      return await (aborted ? Promise.race([promise, aborted]) : promise);
    } finally {
      await this.#acquire(id);
      this.#enter(id);
    }
  }
}

let active: Pick<CpuMeter, "wait"> | undefined;

/** Installs the worker's meter; host imports that suspend the guest go through `suspend`. */
export function installCpuMeter(meter: CpuMeter): void {
  active = meter;
}

export function suspend<T>(promise: Promise<T>): Promise<T> {
  return active ? active.wait(promise) : promise;
}
