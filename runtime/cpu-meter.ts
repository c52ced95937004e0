// Guest CPU accounting shared between a worker and the main thread's watchdog.
//
// A worker runs one guest at a time. While a guest runs, the shared slot holds its request id and
// the absolute time at which it will have used up its CPU budget; while every guest is suspended
// (awaiting host I/O through JSPI) the slot holds 0 and nothing is charged. The main thread reads
// the slot on a timer and terminates a worker whose running guest is past its deadline: a wasm
// loop cannot be interrupted any other way.

const ID = 0;
const DEADLINE = 0;

/** Milliseconds since the epoch, comparable across threads. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

export interface CpuSlot {
  ids: Int32Array;
  deadlines: Float64Array;
}

export function createCpuSlot(): { buffer: SharedArrayBuffer; slot: CpuSlot } {
  const buffer = new SharedArrayBuffer(16);
  return { buffer, slot: openCpuSlot(buffer) };
}

export function openCpuSlot(buffer: SharedArrayBuffer): CpuSlot {
  return { ids: new Int32Array(buffer, 0, 1), deadlines: new Float64Array(buffer, 8, 1) };
}

/** Main thread: the request running past its deadline at `at`, or 0. */
export function overrun(slot: CpuSlot, at: number): number {
  const id = Atomics.load(slot.ids, ID);
  if (id === 0) return 0;
  return at > slot.deadlines[DEADLINE]! && Atomics.load(slot.ids, ID) === id ? id : 0;
}

/** Worker side: charges guest time to the request whose guest code is running. */
export class CpuMeter {
  readonly #slot: CpuSlot;
  readonly #used = new Map<number, number>();
  readonly #budget = new Map<number, number>();
  readonly #aborts = new Map<number, Promise<never>>();
  #current = 0;
  #since = 0;

  constructor(slot: CpuSlot) {
    this.#slot = slot;
  }

  /** Guest code of `id` starts or continues running. */
  enter(id: number, budgetMs?: number): void {
    if (budgetMs !== undefined) {
      this.#budget.set(id, budgetMs);
      this.#used.set(id, 0);
    }
    this.#pause();
    this.#current = id;
    this.#since = now();
    const left = (this.#budget.get(id) ?? Number.POSITIVE_INFINITY) - (this.#used.get(id) ?? 0);
    this.#slot.deadlines[DEADLINE] = this.#since + left;
    Atomics.store(this.#slot.ids, ID, id);
  }

  /** The running guest stops (it returned, trapped or suspended). */
  #pause(): void {
    if (this.#current === 0) return;
    Atomics.store(this.#slot.ids, ID, 0);
    const id = this.#current;
    this.#used.set(id, (this.#used.get(id) ?? 0) + (now() - this.#since));
    this.#current = 0;
  }

  /** Milliseconds of guest CPU used by `id` so far. */
  used(id: number): number {
    return (this.#used.get(id) ?? 0) + (this.#current === id ? now() - this.#since : 0);
  }

  /** The request is over: stop charging it and forget it. */
  leave(id: number): void {
    if (this.#current === id) this.#pause();
    this.#used.delete(id);
    this.#budget.delete(id);
    this.#aborts.delete(id);
  }

  /** While `id` runs, its waits reject as soon as `aborted` does (a deadline or a cancel). */
  abortWith(id: number, aborted: Promise<never>): void {
    this.#aborts.set(id, aborted);
  }

  /**
   * Awaits host I/O on behalf of the running guest without charging it, then charges it again
   * when the guest continues.
   */
  async wait<T>(promise: Promise<T>): Promise<T> {
    const id = this.#current;
    const aborted = this.#aborts.get(id);
    this.#pause();
    try {
      return await (aborted ? Promise.race([promise, aborted]) : promise);
    } finally {
      if (id !== 0) this.enter(id);
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
