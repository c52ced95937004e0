// Runs `deploy-cli dev` as a user would, for end-to-end tests: the real binary in a project
// folder, its output kept (JSON events with --json, lines otherwise), and a clean stop.

import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { ROOT } from "./gateway.ts";
import { signalGroup, spawnOwned } from "./process.ts";

const DEPLOY_CLI = join(ROOT, "bin", "deploy-cli.js");

export interface DevProcess {
  process: ChildProcess;
  /** Every stdout line so far. */
  lines: string[];
  /** The stdout lines that are JSON (every one with --json). */
  events: Record<string, any>[];
  stderr(): string;
  /** Resolves with the first line (or event) satisfying `test`, looking at past output too. */
  waitForLine(test: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  waitForEvent(
    test: (event: Record<string, any>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, any>>;
  /** SIGINT (Ctrl+C) and wait for the exit code. */
  stop(): Promise<number | null>;
}

export function startDev(cwd: string, args: string[] = [], env: Record<string, string> = {}): DevProcess {
  const child = spawnOwned(process.execPath, [DEPLOY_CLI, "dev", "--port", "0", ...args], {
    cwd,
    env: { ...process.env, WASMGATE_TOKEN: "", WASMGATE_URL: "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const events: Record<string, any>[] = [];
  const waiters = new Set<() => void>();
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  createInterface({ input: child.stdout! }).on("line", (line) => {
    lines.push(line);
    try {
      events.push(JSON.parse(line));
    } catch {}
    for (const wake of waiters) wake();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  void exited.then(() => {
    for (const wake of waiters) wake();
  });

  function waitFor<T>(find: () => T | undefined, what: string, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = find();
        if (found !== undefined) {
          done();
          resolve(found);
        } else if (child.exitCode !== null) {
          done();
          reject(new Error(`deploy-cli dev exited (${child.exitCode}) before ${what}:\n${stderr}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(`no ${what} within ${timeoutMs} ms; stdout:\n${lines.join("\n")}\nstderr:\n${stderr}`),
        );
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  }

  return {
    process: child,
    lines,
    events,
    stderr: () => stderr,
    waitForLine: (test, timeoutMs = 120_000) => waitFor(() => lines.find(test), "matching line", timeoutMs),
    waitForEvent: (test, timeoutMs = 120_000) =>
      waitFor(() => events.find(test), "matching event", timeoutMs),
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      signalGroup(child, "SIGINT");
      return exited;
    },
  };
}
