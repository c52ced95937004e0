// Processes that tests start (gateways, redis-server, deploy-cli): each in a process group of its
// own, so that stopping it stops whatever it started too, and tied to the test process's life:
// their groups are killed when it exits, and where the kernel can be asked to (Linux, setpriv's
// --pdeathsig), each is sent SIGKILL when the test process dies without a chance to clean up.

import { type ChildProcess, type SpawnOptions, spawn } from "node:child_process";
import { existsSync } from "node:fs";

const SETPRIV = "/usr/bin/setpriv";
const TIED = process.platform === "linux" && existsSync(SETPRIV);
const owned = new Set<ChildProcess>();
let hooked = false;

/**
 * `spawn`, in a new process group tied to this process.
 *
 * @example
 *   const child = spawnOwned(process.execPath, [script], { stdio: ["ignore", "pipe", "pipe"] });
 *   signalGroup(child, "SIGTERM");
 */
export function spawnOwned(command: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  const child = TIED
    ? spawn(SETPRIV, ["--pdeathsig", "SIGKILL", command, ...args], { ...options, detached: true })
    : spawn(command, args, { ...options, detached: true });
  owned.add(child);
  child.once("exit", () => owned.delete(child));
  if (!hooked) {
    hooked = true;
    process.once("exit", () => {
      for (const c of owned) signalGroup(c, "SIGKILL");
    });
  }
  return child;
}

/** Sends `signal` to the child's whole process group (just the child if the group is gone). */
export function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}
