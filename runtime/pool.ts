// The main thread's side of the guest workers: picks a worker for each request, turns the worker's
// messages into a web Response, and replaces a worker that dies (failing only its own requests).

import { Worker } from "node:worker_threads";
import { RuntimeError } from "./errors.ts";
import type { Logger } from "./logger.ts";
import type { FromWorker, ToWorker, WireDeployment, WireRequest } from "./wire.ts";

export interface InvokeContext {
  requestId: string;
  app: string;
}

export interface GuestPoolOptions {
  workers: number;
  logger: Logger;
  /** Instances of one app alive at once in one worker; more requests wait for one to free up. */
  maxInstancesPerApp: number;
  /** Requests an instance serves before it is recycled. */
  maxUsesPerInstance: number;
}

interface Pending {
  ctx: InvokeContext;
  resolve(response: Response): void;
  reject(err: Error): void;
  stream?: ReadableStreamDefaultController<Uint8Array>;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
}

const NULL_BODY = new Set([101, 103, 204, 205, 304]);
const WORKER_URL = new URL("./guest.worker.ts", import.meta.url);
// A worker keeps its preferred apps while it is at most this many requests busier than the least
// busy one: apps stay warm in few workers without one worker queueing everything.
const AFFINITY_SLACK = 4;

export interface GuestPool {
  invoke(deployment: WireDeployment, request: WireRequest, ctx: InvokeContext): Promise<Response>;
  evict(key: string): void;
  readonly size: number;
  close(): Promise<void>;
}

export function createGuestPool(options: GuestPoolOptions): GuestPool {
  const { logger } = options;
  let nextId = 1;
  let closed = false;
  const slots: Slot[] = [];

  function spawn(index: number): void {
    const worker = new Worker(WORKER_URL);
    const slot: Slot = { worker, pending: new Map() };
    slots[index] = slot;
    worker.on("message", (msg: FromWorker) => onMessage(slot, msg));
    worker.on("error", (err) => logger.error({ err, worker: index }, "guest worker failed"));
    worker.on("exit", (code) => {
      for (const p of slot.pending.values()) {
        fail(
          p,
          new RuntimeError("ERR_RUNTIME_WORKER_RESTARTED", "the guest worker serving this request restarted"),
        );
      }
      slot.pending.clear();
      if (!closed) {
        logger.warn({ worker: index, code }, "guest worker exited; starting a new one");
        spawn(index);
      }
    });
  }

  function fail(p: Pending, err: Error): void {
    if (p.stream) p.stream.error(err);
    else p.reject(err);
  }

  function onMessage(slot: Slot, msg: FromWorker): void {
    const p = slot.pending.get(msg.id);
    if (!p) return;
    switch (msg.type) {
      case "response":
        slot.pending.delete(msg.id);
        p.resolve(
          new Response(NULL_BODY.has(msg.status) ? null : msg.body, {
            status: msg.status,
            headers: msg.headers,
          }),
        );
        break;
      case "head": {
        const body = NULL_BODY.has(msg.status)
          ? null
          : new ReadableStream<Uint8Array>({
              start(controller) {
                p.stream = controller;
              },
            });
        p.resolve(new Response(body, { status: msg.status, headers: msg.headers }));
        break;
      }
      case "chunk":
        p.stream?.enqueue(msg.data);
        break;
      case "end":
        slot.pending.delete(msg.id);
        p.stream?.close();
        break;
      case "abort":
        slot.pending.delete(msg.id);
        logger.warn({ requestId: p.ctx.requestId, app: p.ctx.app, reason: msg.message }, "response aborted");
        p.stream?.error(new RuntimeError("ERR_RUNTIME_TRAP", msg.message));
        break;
      case "error":
        slot.pending.delete(msg.id);
        fail(p, new RuntimeError(msg.code, msg.message));
        break;
      case "log":
        logger.info(
          { requestId: p.ctx.requestId, app: p.ctx.app, stream: msg.stream, line: msg.line },
          "guest output",
        );
        break;
    }
  }

  function pick(key: string): Slot {
    let least = slots[0]!;
    for (const s of slots) if (s.pending.size < least.pending.size) least = s;
    const preferred = slots[hash(key) % slots.length]!;
    return preferred.pending.size <= least.pending.size + AFFINITY_SLACK ? preferred : least;
  }

  for (let i = 0; i < options.workers; i++) spawn(i);

  return {
    get size() {
      return slots.length;
    },
    invoke(deployment, request, ctx) {
      if (closed)
        return Promise.reject(new RuntimeError("ERR_RUNTIME_CLOSED", "the gateway is shutting down"));
      const slot = pick(deployment.key);
      const id = nextId++;
      return new Promise<Response>((resolve, reject) => {
        slot.pending.set(id, { ctx, resolve, reject });
        const msg: ToWorker = {
          type: "invoke",
          id,
          deployment,
          request,
          limits: { maxInstances: options.maxInstancesPerApp, maxUses: options.maxUsesPerInstance },
        };
        const body = request.body;
        slot.worker.postMessage(msg, body && body.byteLength > 0 ? [body.buffer as ArrayBuffer] : []);
      });
    },
    evict(key) {
      for (const s of slots) s.worker.postMessage({ type: "evict", key } satisfies ToWorker);
    },
    async close() {
      closed = true;
      await Promise.all(slots.map((s) => s.worker.terminate()));
    },
  };
}

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}
