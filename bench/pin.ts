// Where benchmark processes run: every server (with all its threads and child processes) on the
// same CPUs, wrk on others, so that a ratio compares servers given the same cores. Defaults: the
// servers on CPU 0, wrk on CPU 1; WASMGATE_BENCH_SERVER_CPUS and WASMGATE_BENCH_WRK_CPUS take a
// `taskset -c` list instead.

import { readdirSync, readFileSync } from "node:fs";

export const SERVER_CPUS = process.env.WASMGATE_BENCH_SERVER_CPUS || "0";
export const WRK_CPUS = process.env.WASMGATE_BENCH_WRK_CPUS || "1";

/** `command args` run under `taskset -c cpus`: the process and every thread it starts stay there. */
export function pinnedCommand(cpus: string, command: string, args: readonly string[]): [string, string[]] {
  return ["taskset", ["-c", cpus, command, ...args]];
}

/** The CPUs each thread of `pid` and of its descendants may run on, as /proc lists them. */
function affinities(pid: number): Map<string, string> {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {}
  }
  const found = new Map<string, string>();
  const visit = (p: number) => {
    for (const tid of readdirSync(`/proc/${p}/task`)) {
      const status = readFileSync(`/proc/${p}/task/${tid}/status`, "utf8");
      found.set(`${p}/${tid}`, /^Cpus_allowed_list:\s*(\S+)$/m.exec(status)?.[1] ?? "?");
    }
    for (const child of children.get(p) ?? []) visit(child);
  };
  visit(pid);
  return found;
}

/** A CPU list (`0`, `0,2`, `0-3`) as the sorted CPUs it names, joined by commas. */
function cpuSet(list: string): string {
  const cpus = new Set<number>();
  for (const part of list.split(",")) {
    const [from, to = from] = part.split("-").map(Number) as [number, number?];
    for (let cpu = from; cpu <= to!; cpu++) cpus.add(cpu);
  }
  return [...cpus].sort((x, y) => x - y).join(",");
}

/**
 * Throws unless every thread of the process `pid` and its descendants is pinned to `cpus`;
 * returns how many threads that is. A benchmark calls it once its server answers.
 */
export function assertPinned(pid: number, cpus: string, what: string): number {
  const want = cpuSet(cpus);
  const threads = affinities(pid);
  const stray = [...threads].filter(([, allowed]) => cpuSet(allowed) !== want);
  if (stray.length > 0) {
    throw new Error(
      `${what}: ${stray.length} of ${threads.size} threads may run outside CPUs ${want} (${stray
        .slice(0, 3)
        .map(([t, a]) => `${t}: ${a}`)
        .join(", ")})`,
    );
  }
  return threads.size;
}
