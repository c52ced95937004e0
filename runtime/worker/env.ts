// What every part of a guest worker shares: its port to the main thread (answers batched through
// an outbox), what it was started with, its CPU meter and counters, and the services the
// capabilities' host imports use.

import { dirname } from "node:path";
import { parentPort, workerData } from "node:worker_threads";
import type { KvStore } from "../../kv/index.ts";
import type { HostServices } from "../capabilities/index.ts";
import { type GatewayListeners, NO_LISTENERS } from "../capabilities/outbound-http/hosts.ts";
import { Outbox } from "../outbox.ts";
import type { FromWorker, FrontConfig, KvBackendConfig } from "../protocol.ts";
import { countingKvStore, WorkerStats } from "../stats.ts";
import { CpuMeter, installCpuMeter, openCpuSlot } from "./cpu-meter.ts";
import { createKvBackend } from "./kv-backend.ts";

export const port = parentPort!;
const outbox = new Outbox<FromWorker>((batch, transfer) => port.postMessage(batch, transfer));
/**
 * Requests of the worker's own listener (listener.ts) have negative ids: what is sent about them
 * stays in the worker and goes to that listener.
 */
let local: ((msg: FromWorker) => void) | undefined;
export function receiveLocally(receive: (msg: FromWorker) => void): void {
  local = receive;
}
export const post = (msg: FromWorker, transfer?: ArrayBuffer[]) => {
  if (local !== undefined && "id" in msg && msg.id < 0) local(msg);
  else outbox.post(msg, transfer);
};
/**
 * Before a guest runs, answers older than this go out. A guest that loops until the watchdog
 * terminates the worker takes unsent messages with it: their requests fail as restarted. This
 * bounds that loss to what finished just before, and the wait of answers behind a long call.
 */
const OUTBOX_HOLD_MS = 0.25;

export const workerConfig = workerData as {
  cpu: SharedArrayBuffer;
  /** Counters the main thread reads for metrics (see stats.ts). */
  stats: SharedArrayBuffer;
  kv: KvBackendConfig | undefined;
  /** This worker's share of the gateway's memory budget for loaded deployments. */
  memoryBudgetBytes: number;
  /** An instance idle this long is dropped; its app's code stays loaded. */
  instanceIdleMs: number;
  /** An app without a request this long is unloaded, code and all; its next request loads it again. */
  unloadIdleMs: number;
  /** The gateway's own ports as they were when this worker started ("listeners" updates them). */
  listeners: GatewayListeners | undefined;
  /** This worker's own listener, when the gateway listens in its workers (else a "front" message). */
  front: FrontConfig | undefined;
};

/** What else must go out before a guest runs (the worker listener's held answers). */
let beforeGuest: ((holdMs: number) => void) | undefined;
export function beforeGuestRuns(flush: (holdMs: number) => void): void {
  beforeGuest = flush;
}

export const meter = new CpuMeter(openCpuSlot(workerConfig.cpu), () => {
  outbox.flushOlderThan(OUTBOX_HOLD_MS);
  beforeGuest?.(OUTBOX_HOLD_MS);
});
installCpuMeter(meter);
export const stats = new WorkerStats(workerConfig.stats);

let gatewayListeners = workerConfig.listeners ?? NO_LISTENERS;
export function setGatewayListeners(listeners: GatewayListeners): void {
  gatewayListeners = listeners;
}

// One store client per worker, opened on first use.
let kvStore: KvStore | undefined;

export const services: HostServices = {
  kvStore() {
    kvStore ??= countingKvStore(createKvBackend(workerConfig.kv), stats);
    return kvStore;
  },
  onKvOpLimit: () => stats.kvError("ERR_KV_OP_LIMIT"),
  gatewayListeners: () => gatewayListeners,
  localDataDir: () => (workerConfig.kv?.kind === "sqlite" ? dirname(workerConfig.kv.path) : undefined),
};
