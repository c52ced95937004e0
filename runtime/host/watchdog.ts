// Main thread: tells which worker's guest has overrun its CPU budget, from the slot the worker
// writes (../cpu-slot.ts) and the worker thread's real CPU time, read from /proc.

import { readFileSync } from "node:fs";
import { CPU_AT_ENTER, type CpuSlot, DEADLINE, HARD_DEADLINE, ID, LEFT, TICK_MS, TID } from "../cpu-slot.ts";

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
