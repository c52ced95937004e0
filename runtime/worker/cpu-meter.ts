// Worker side of guest CPU accounting (see ../cpu-slot.ts): charges guests the thread's CPU time
// while their code runs, stops a guest over its budget whenever it suspends or finishes, and keeps
// the slot the main thread's watchdog reads up to date.

import { readFileSync } from "node:fs";
import {
  CPU_AT_ENTER,
  type CpuSlot,
  DEADLINE,
  ENTERED,
  HARD_DEADLINE,
  ID,
  LEFT,
  now,
  TID,
  WALL_FACTOR,
  WATCHDOG_GRACE_MS,
} from "../cpu-slot.ts";

export { openCpuSlot } from "../cpu-slot.ts";

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

/** How the meter stops a request that must end: what it races waits against, and a CPU stop. */
export interface Abort {
  readonly promise: Promise<never>;
  stopForCpu(): void;
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
  readonly #aborts = new Map<number, Abort>();
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

  /** Waits for the baton; a guest `resuming` whose request ended meanwhile is stopped instead. */
  async #acquire(id: number, resuming = false): Promise<void> {
    while (this.#holder !== 0 && this.#holder !== id) {
      await new Promise<void>((resolve) => this.#turns.push(resolve));
    }
    if (resuming && !this.#budget.has(id)) {
      this.#turns.shift()?.();
      throw new GuestStopped("cancelled", "the request has ended");
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
    times[ENTERED] = at;
    Atomics.store(this.#slot.ids, ID, id);
  }

  #pause(): void {
    if (this.#current === 0) return;
    Atomics.store(this.#slot.ids, ID, 0);
    const id = this.#current;
    this.#used.set(id, (this.#used.get(id) ?? 0) + (threadCpuMs() - this.#cpuSince));
    this.#current = 0;
  }

  /** No guest runs, and none waits for its turn to run. */
  get idle(): boolean {
    return this.#holder === 0 && this.#turns.length === 0;
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
  abortWith(id: number, cancellation: Abort): void {
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
    const abort = this.#aborts.get(id);
    this.#pause();
    if (this.over(id)) {
      abort?.stopForCpu();
      throw new GuestStopped("cpu", "the guest used more CPU time than its limit");
    }
    this.#release(id);
    // A guest stopped while it waits is not resumed (jco abandons a host call that throws, and
    // the request ends without it): it must not take the baton, or the watchdog would see it run.
    let outcome: { value: T } | { error: unknown };
    try {
      outcome = { value: await (abort ? Promise.race([promise, abort.promise]) : promise) };
    } catch (error) {
      if (error instanceof GuestStopped) throw error;
      outcome = { error };
    }
    await this.#acquire(id, true);
    this.#enter(id);
    if ("error" in outcome) throw outcome.error;
    return outcome.value;
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
