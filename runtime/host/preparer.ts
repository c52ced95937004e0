// Main-thread client of prepare.worker.ts. One worker, started on first use, so the ~1 s transpile
// of a deploy never blocks the event loop serving requests.

import { Worker } from "node:worker_threads";
import type { ComponentInfo } from "../component-info.ts";
import { RuntimeError, type RuntimeErrorCode } from "../errors.ts";
import type { DeployHost, PrepareLimits, PrepareRequest } from "../protocol.ts";

type Reply = { id: number; info?: ComponentInfo; error?: { code: RuntimeErrorCode; message: string } };

export interface Preparer {
  prepare(bytes: Uint8Array, outDir: string, limits: PrepareLimits): Promise<ComponentInfo>;
  close(): Promise<void>;
}

/** `host`: what the gateway runs on, which decides some imports (see Capability.refuse). */
export function createPreparer(host: DeployHost): Preparer {
  let worker: Worker | undefined;
  let nextId = 1;
  const pending = new Map<number, { resolve(info: ComponentInfo): void; reject(err: Error): void }>();

  function start(): Worker {
    const w = new Worker(new URL("../worker/prepare.worker.ts", import.meta.url));
    w.on("message", (msg: Reply) => {
      const p = pending.get(msg.id);
      pending.delete(msg.id);
      if (!p) return;
      if (msg.error) p.reject(new RuntimeError(msg.error.code, msg.error.message));
      else p.resolve(msg.info!);
    });
    w.on("exit", () => {
      worker = undefined;
      for (const p of pending.values()) {
        p.reject(new RuntimeError("ERR_RUNTIME_WORKER_RESTARTED", "the build worker stopped; try again"));
      }
      pending.clear();
    });
    // Idle between deploys: do not keep the process alive for it.
    w.unref();
    return w;
  }

  return {
    prepare(bytes, outDir, limits) {
      worker ??= start();
      const id = nextId++;
      const w = worker;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        w.postMessage({ id, bytes, outDir, limits, host } satisfies PrepareRequest);
      });
    },
    async close() {
      await worker?.terminate();
    },
  };
}
