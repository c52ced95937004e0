/**
 * Runs `jco componentize` in a child process (componentize.child.ts) that stays up between builds.
 * A warm child skips loading jco and compiling its wasm tools again, and keeps the
 * StarlingMonkey engine with the world's bindings spliced in, so a rebuild in `deploy-cli dev`
 * takes about half the time of a first build. One build at a time per child: jco changes the
 * process's working directory while it builds.
 *
 * @example
 *   const builder = createComponentizer();
 *   await builder.build({ entry, wit, world: "sdk-guest", backend: "starlingmonkey", out });
 *   await builder.close();
 */

import { type ChildProcess, fork } from "node:child_process";
import path from "node:path";

export type Backend = "starlingmonkey" | "quickjs";

export interface ComponentizeRequest {
  /** Absolute path of the module to build; it is bundled with everything it imports. */
  entry: string;
  /** Absolute path of the WIT directory. */
  wit: string;
  world: string;
  backend: Backend;
  /** Absolute path the component is written to. */
  out: string;
  /** A Rolldown configuration module merged into the bundle (aliases, externals). */
  bundleConfig?: string;
  /** Paths in error messages are shown relative to this folder. */
  displayRoot?: string;
  /**
   * A development build: StarlingMonkey's imports it never calls (wasi:cli environment and exit,
   * wasi:sockets) are left as imports instead of being replaced by traps, which saves a rewrite of
   * the whole 14 MB engine (about 0.6 s). A gateway links them and grants nothing, so the guest
   * behaves the same; `push` always makes the complete build.
   */
  keepUnusedImports?: boolean;
}

export interface ComponentizeResult {
  /** What the tools printed besides errors (warnings, fallbacks). */
  warnings: string[];
}

/** The source did not build: the message is the compiler's, without tool stack traces. */
export class BuildError extends Error {
  override readonly name = "BuildError";
}

/** The build tools themselves failed (missing, crashed, timed out): not the source's fault. */
export class BuildToolError extends Error {
  override readonly name = "BuildToolError";
}

export interface Componentizer {
  build(request: ComponentizeRequest): Promise<ComponentizeResult>;
  close(): Promise<void>;
}

/** Messages between this module and the child. */
export type ChildRequest = { id: number; request: ComponentizeRequest };
export type ChildReply =
  | { id: number; ok: true; warnings: string[] }
  | { id: number; ok: false; kind: "build" | "tool"; message: string };

const CHILD = path.join(import.meta.dirname, "componentize.child.ts");
/** A StarlingMonkey build takes 2-15 s depending on load; anything near this is stuck. */
const DEFAULT_TIMEOUT_MS = 300_000;

export function createComponentizer(options: { timeoutMs?: number } = {}): Componentizer {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let child: ChildProcess | undefined;
  let stderrTail = "";
  let nextId = 1;
  let queue: Promise<unknown> = Promise.resolve();
  const pending = new Map<number, { resolve(r: ChildReply): void; reject(e: Error): void }>();

  function start(): ChildProcess {
    const c = fork(CHILD, [], { stdio: ["ignore", "ignore", "pipe", "ipc"], execArgv: [] });
    stderrTail = "";
    c.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      stderrTail = (stderrTail + chunk).slice(-4000);
    });
    c.on("message", (reply: ChildReply) => {
      const p = pending.get(reply.id);
      pending.delete(reply.id);
      p?.resolve(reply);
    });
    c.on("exit", (code, signal) => {
      if (child === c) child = undefined;
      const why = signal ? `was killed (${signal})` : `exited with code ${code}`;
      for (const p of pending.values()) {
        p.reject(new BuildToolError(`the build process ${why}${stderrTail ? `: ${stderrTail.trim()}` : ""}`));
      }
      pending.clear();
    });
    return c;
  }

  async function run(request: ComponentizeRequest): Promise<ComponentizeResult> {
    child ??= start();
    const c = child;
    const id = nextId++;
    const reply = await new Promise<ChildReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        c.kill("SIGKILL");
        reject(new BuildToolError(`the build did not finish within ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      pending.set(id, {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      c.send({ id, request } satisfies ChildRequest);
    });
    if (reply.ok) return { warnings: reply.warnings };
    throw reply.kind === "build" ? new BuildError(reply.message) : new BuildToolError(reply.message);
  }

  return {
    build(request) {
      const result = queue.then(() => run(request));
      queue = result.catch(() => {});
      return result;
    },
    async close() {
      const c = child;
      child = undefined;
      if (!c || c.exitCode !== null) return;
      const exited = new Promise((resolve) => c.once("exit", resolve));
      c.disconnect();
      // It exits on disconnect; a child stuck in a build is not waited for.
      const timer = setTimeout(() => c.kill("SIGKILL"), 2000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** One build in a child of its own, for one-off builds (push, the example cache). */
export async function componentize(request: ComponentizeRequest): Promise<ComponentizeResult> {
  const builder = createComponentizer();
  try {
    return await builder.build(request);
  } finally {
    await builder.close();
  }
}
