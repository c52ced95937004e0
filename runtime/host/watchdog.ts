// Main thread: tells which worker's guest has overrun its CPU budget, or stalled, from the slot the
// worker writes (../cpu-slot.ts) and the worker thread's real CPU time, read from /proc.

import { readFileSync } from "node:fs";
import {
  CPU_AT_ENTER,
  type CpuSlot,
  DEADLINE,
  ENTERED,
  HARD_DEADLINE,
  ID,
  LEFT,
  TICK_MS,
  TID,
} from "../cpu-slot.ts";

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

/** Why the watchdog stops a worker: its guest used more CPU than its budget, or ran too long. */
export type OverrunReason = "cpu" | "stalled";

/** A guest to stop. */
export interface Overrun {
  id: number;
  reason: OverrunReason;
  /** CPU milliseconds the guest had used past its budget when seen, where /proc could tell. */
  overBudgetMs?: number;
}

/**
 * Main thread: the request whose guest must be stopped at `at`, and why, or undefined. Past its
 * deadline a guest is checked against the worker thread's real CPU time: only CPU used beyond its
 * budget (plus a tick of /proc's rounding) stops it for CPU, so a thread the host did not schedule
 * (contention, a CPU quota, a paused VM) is never stopped for CPU. A guest that has run without
 * yielding for `stallMs` of wall time is stopped as stalled. Where the thread's CPU cannot be
 * read, the wall-clock backstop (WALL_FACTOR) stands in for it.
 */
export function overrun(slot: CpuSlot, at: number, stallMs: number): Overrun | undefined {
  const id = Atomics.load(slot.ids, ID);
  if (id === 0) return undefined;
  const pastDeadline = at > slot.times[DEADLINE]!;
  const stalled = at - slot.times[ENTERED]! > stallMs;
  if (!pastDeadline && !stalled) return undefined;
  let reason: OverrunReason | undefined;
  let overBudgetMs: number | undefined;
  if (pastDeadline) {
    const tid = Atomics.load(slot.ids, TID);
    const cpu = tid === 0 ? undefined : procThreadCpuMs(tid);
    if (cpu !== undefined) overBudgetMs = cpu - slot.times[CPU_AT_ENTER]! - slot.times[LEFT]!;
    const overBudget = overBudgetMs === undefined ? at > slot.times[HARD_DEADLINE]! : overBudgetMs > TICK_MS;
    if (overBudget) reason = "cpu";
  }
  reason ??= stalled ? "stalled" : undefined;
  if (reason === undefined) return undefined;
  // The guest may have yielded meanwhile: stop only the one still running.
  if (Atomics.load(slot.ids, ID) !== id) return undefined;
  return overBudgetMs === undefined ? { id, reason } : { id, reason, overBudgetMs };
}
