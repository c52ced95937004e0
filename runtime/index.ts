/**
 * The component host: prepares uploaded components at deploy time and runs them in worker
 * threads, one request per instance at a time.
 *
 * @example
 * const runtime = createRuntime({ compiledDir: ".wasmgate/compiled", logger, workers: 2 });
 * const info = await runtime.prepare(digest, bytes);
 * // Pass the same limits object for every request of an app: its limits and access go to a
 * // worker once, keyed by it.
 * const limits = { ...DEFAULT_LIMITS, cpuMs: 20 };
 * const { status, headers, body } = await runtime.invoke({ digest, info }, request, limits, {
 *   requestId, app: "hello", tenant: "acme",
 *   grants: { buckets: ["default"], allowedOutboundHosts: ["https://api.example.com"] },
 *   network: { allowPrivateNetwork: ["10.0.0.0/8"], trustAllowList: false },
 * });
 * // Once the gateway listens, so guests cannot call back into it:
 * runtime.setGatewayListeners({ dataPorts: [8787], adminPorts: [8788] });
 */

import { existsSync, readFileSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { GatewayListeners } from "./capabilities/outbound-http/hosts.ts";
import { type ComponentInfo, isCurrentInfo } from "./component-info.ts";
import { RuntimeError } from "./errors.ts";
import {
  type AppOwner,
  createGuestPool,
  type GuestOutputListener,
  type GuestRequest,
  type GuestResponse,
  type InvokeContext,
  type RuntimeWarningListener,
  type ServedRequest,
  type WorkerListenOptions,
} from "./host/pool.ts";
import { createPreparer } from "./host/preparer.ts";
import type { GuestLimits } from "./limits.ts";
import type { Logger } from "./logger.ts";
import type { DeployHost, KvBackendConfig, WireDeployment } from "./protocol.ts";
import type { RuntimeStats } from "./stats.ts";

export {
  AddressRanges,
  type GatewayListeners,
  isSpecialAddress,
  namedSpecialAddresses,
  type OutboundPattern,
  parseOutboundPattern,
} from "./capabilities/outbound-http/hosts.ts";
export { HOP_BY_HOP } from "./capabilities/wasi/index.ts";
export type { ComponentInfo } from "./component-info.ts";
export { DEFAULT_STALL_MS } from "./cpu-slot.ts";
export { RUNTIME_ERROR_MEANINGS, RUNTIME_ERRORS, RuntimeError, type RuntimeErrorCode } from "./errors.ts";
export {
  type AppOwner,
  DEFAULT_INSTANCE_IDLE_MS,
  DEFAULT_MAX_QUEUE_MS,
  DEFAULT_MAX_QUEUED_PER_APP,
  DEFAULT_UNLOAD_IDLE_MS,
  type GuestOutputListener,
  type GuestRequest,
  type GuestResponse,
  type InvokeContext,
  inlineBody,
  REQUEST_ID_HEADER,
  type RuntimeWarning,
  type RuntimeWarningListener,
  type ServedRequest,
  type WorkerListenOptions,
} from "./host/pool.ts";
export { DEFAULT_LIMITS, type GuestLimits, INSTANCE_MODES, type InstanceMode } from "./limits.ts";
export type { Logger } from "./logger.ts";
export { Outbox } from "./outbox.ts";
export { FORWARDED_PEER_HEADER, type KvBackendConfig, type NetworkGrant } from "./protocol.ts";
export { numberedRequestId, type RequestLine, requestIdPrefix, requestLineText } from "./request-line.ts";
export { KV_OPS, type KvOp, type RuntimeStats } from "./stats.ts";
export { createKvBackend } from "./worker/kv-backend.ts";

export const DEFAULT_MAX_COMPONENT_BYTES = 50 * 1024 * 1024;
export const DEFAULT_MAX_INSTANCES_PER_APP = 16;
/**
 * No count limit: an instance is replaced after a trap, a deadline, idling, or once its memory has
 * grown past three quarters of its cap. Each new instance of a component brings new classes in
 * jco's generated code, and after a few, V8's feedback for that code turns megamorphic: replacing
 * instances every 10,000 requests cost 11-14% more CPU per fast-world request, for good.
 */
export const DEFAULT_MAX_USES_PER_INSTANCE = Number.POSITIVE_INFINITY;
export const DEFAULT_MEMORY_BUDGET_BYTES = 2 * 1024 * 1024 * 1024;

export interface RuntimeOptions {
  /** Where transpiled components live, one directory per digest. */
  compiledDir: string;
  logger: Logger;
  workers?: number;
  maxComponentBytes?: number;
  maxInstancesPerApp?: number;
  /** Requests an instance serves before it is replaced (default: no limit). */
  maxUsesPerInstance?: number;
  /** The key-value store guests use (wasi:keyvalue). */
  kv?: KvBackendConfig;
  /** Memory for loaded deployments (code and idle instances); least recently used ones go first. */
  memoryBudgetBytes?: number;
  /** How long an instance may sit idle before it is dropped (default 60 s); its app's code stays loaded. */
  instanceIdleMs?: number;
  /** How long an app may go without a request before its worker unloads it, code and all (default 5 min). */
  unloadIdleMs?: number;
  /**
   * Wall-clock time a guest may run without yielding before its worker is recycled as stalled
   * (ERR_RUNTIME_STALLED), whatever CPU it used; default 2 s. CPU limits count CPU only.
   */
  stallMs?: number;
  /** Requests an app may have waiting beyond what its instances can run (default 1,024); then 503. */
  maxQueuedPerApp?: number;
  /** Requests a tenant's apps may have in flight together (default 0: no limit). */
  maxConcurrentPerTenant?: number;
  /** How long a request may wait for an instance of its app (default 10 s); then 503. */
  maxQueueMs?: number;
}

export interface DeployedComponent {
  digest: string;
  info: ComponentInfo;
}

/**
 * What prepared files depend on besides the component: jco's version and our transpile options
 * (3: which imports are async depends on the key-value store, recorded as `preparedFor`).
 * Gateways share prepared files only under the same format, and only files made for their store.
 */
export const PREPARED_FORMAT = `jco-${
  (
    JSON.parse(
      readFileSync(
        join(dirname(fileURLToPath(import.meta.resolve("@bytecodealliance/jco"))), "..", "package.json"),
        "utf8",
      ),
    ) as { version: string }
  ).version
}+wasmgate-3`;

export interface Runtime {
  /**
   * Validates and transpiles a component; throws RuntimeError `ERR_COMPONENT_*` when unusable,
   * including when its initial memory is over `memoryBytes`.
   */
  prepare(digest: string, bytes: Uint8Array, memoryBytes: number): Promise<ComponentInfo>;
  /** The info of an already prepared digest, or undefined when it must be prepared again. */
  prepared(digest: string): Promise<ComponentInfo | undefined>;
  /**
   * The prepared files of a digest (info included), to hand to another gateway's
   * `importPrepared`; undefined when it is not prepared here.
   */
  exportPrepared(digest: string): Promise<Record<string, Uint8Array> | undefined>;
  /**
   * Installs files exported by another gateway running the same PREPARED_FORMAT; undefined (and
   * nothing installed) when they cannot serve here as they are (isCurrentInfo: made for another
   * key-value store), so the caller prepares its own.
   */
  importPrepared(digest: string, files: Record<string, Uint8Array>): Promise<ComponentInfo | undefined>;
  invoke(
    component: DeployedComponent,
    request: GuestRequest,
    limits: GuestLimits,
    ctx: InvokeContext,
  ): Promise<GuestResponse>;
  /**
   * Gets a just-deployed component ready for an app in the worker that will serve it: its code
   * loaded and one instance started. Resolves when that is done or gave up (never rejects), so a
   * deploy can answer once its first request will find the app warm.
   */
  warm(component: DeployedComponent, limits: GuestLimits, owner: AppOwner): Promise<void>;
  /**
   * The gateway's own listening ports, once it listens: no guest reaches its admin port on an
   * address of this machine, and only guests trusted with `network.trustAllowList` its data port.
   */
  setGatewayListeners(listeners: GatewayListeners): void;
  readonly maxComponentBytes: number;
  /** Guest workers replaced since start (CPU-limit kills and crashes). */
  readonly workerRestarts: number;
  /** Counters and worker state, for metrics and readiness; cheap enough to call per scrape. */
  stats(): RuntimeStats;
  /**
   * Opens a listener on the data port in every guest worker (Linux SO_REUSEPORT); see
   * GuestPool.listenInWorkers. Requests the workers do not answer themselves go to
   * `options.fallbackPort`, the main thread's loopback listener.
   */
  listenInWorkers(
    options: WorkerListenOptions,
    served: (tag: unknown, request: ServedRequest) => void,
  ): Promise<void>;
  /** Lets the workers answer `host` themselves with this component, limits and access (see GuestPool). */
  offerRoute(
    host: string,
    component: DeployedComponent,
    limits: GuestLimits,
    ctx: Omit<InvokeContext, "requestId">,
    maxBodyBytes: number,
    tag: unknown,
  ): void;
  /** Forgets every host offered: after a change to routes, deployments or config. */
  resetRoutes(): void;
  /** Closes the workers' own listeners; resolves once their connections have ended. */
  stopListening(): Promise<void>;
  /** Calls `listener` with each line guests write to stdout/stderr; returns the unsubscribe. */
  onGuestOutput(listener: GuestOutputListener): () => void;
  /**
   * Calls `listener` with each warning the runtime logs (a guest stopped by the watchdog, a
   * response aborted, a worker that died); returns the unsubscribe.
   */
  onWarning(listener: RuntimeWarningListener): () => void;
  close(): Promise<void>;
}

export function createRuntime(options: RuntimeOptions): Runtime {
  const maxComponentBytes = options.maxComponentBytes ?? DEFAULT_MAX_COMPONENT_BYTES;
  const host: DeployHost = { kv: options.kv?.kind };
  const preparer = createPreparer(host);
  const pool = createGuestPool({
    workers: options.workers ?? Math.max(1, availableParallelism()),
    logger: options.logger,
    maxInstancesPerApp: options.maxInstancesPerApp ?? DEFAULT_MAX_INSTANCES_PER_APP,
    maxUsesPerInstance: options.maxUsesPerInstance ?? DEFAULT_MAX_USES_PER_INSTANCE,
    kv: options.kv,
    memoryBudgetBytes: options.memoryBudgetBytes ?? DEFAULT_MEMORY_BUDGET_BYTES,
    ...(options.instanceIdleMs === undefined ? {} : { instanceIdleMs: options.instanceIdleMs }),
    ...(options.unloadIdleMs === undefined ? {} : { unloadIdleMs: options.unloadIdleMs }),
    ...(options.stallMs === undefined ? {} : { stallMs: options.stallMs }),
    ...(options.maxQueuedPerApp === undefined ? {} : { maxQueuedPerApp: options.maxQueuedPerApp }),
    ...(options.maxConcurrentPerTenant === undefined
      ? {}
      : { maxConcurrentPerTenant: options.maxConcurrentPerTenant }),
    ...(options.maxQueueMs === undefined ? {} : { maxQueueMs: options.maxQueueMs }),
  });
  const dirOf = (digest: string) => {
    if (!/^[0-9a-f]{64}$/.test(digest)) throw new RuntimeError("ERR_RUNTIME_ARTIFACT_MISSING", "bad digest");
    return join(options.compiledDir, digest);
  };

  // What the pool needs to know of a component, made once per digest rather than per request.
  const wired = new Map<string, WireDeployment>();
  const wire = (component: DeployedComponent): WireDeployment => {
    let deployment = wired.get(component.digest);
    if (deployment?.info !== component.info) {
      if (wired.size >= 10_000) wired.clear();
      deployment = { key: component.digest, dir: dirOf(component.digest), info: component.info };
      wired.set(component.digest, deployment);
    }
    return deployment;
  };

  return {
    maxComponentBytes,
    get workerRestarts() {
      return pool.restarts;
    },
    stats: () => pool.stats(),
    onGuestOutput: (listener) => pool.onGuestOutput(listener),
    onWarning: (listener) => pool.onWarning(listener),
    prepare(digest, bytes, memoryBytes) {
      return preparer.prepare(bytes, dirOf(digest), { maxBytes: maxComponentBytes, memoryBytes });
    },
    async prepared(digest) {
      const file = join(dirOf(digest), "info.json");
      if (!existsSync(file)) return undefined;
      const info = JSON.parse(await readFile(file, "utf8")) as ComponentInfo;
      return isCurrentInfo(info, host) ? info : undefined;
    },
    async exportPrepared(digest) {
      const dir = dirOf(digest);
      if (!existsSync(join(dir, "info.json"))) return undefined;
      const files: Record<string, Uint8Array> = {};
      for (const name of await readdir(dir)) files[name] = new Uint8Array(await readFile(join(dir, name)));
      return files;
    },
    async importPrepared(digest, files) {
      const info = JSON.parse(new TextDecoder().decode(files["info.json"])) as ComponentInfo;
      if (!isCurrentInfo(info, host)) return undefined;
      const dir = dirOf(digest);
      const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
      await mkdir(tmp, { recursive: true });
      for (const [name, data] of Object.entries(files)) {
        if (name.includes("/") || name.includes("\\") || name.startsWith(".")) {
          throw new RuntimeError("ERR_RUNTIME_ARTIFACT_MISSING", `bad prepared file name ${name}`);
        }
        await writeFile(join(tmp, name), data);
      }
      await rm(dir, { recursive: true, force: true });
      await rename(tmp, dir);
      return info;
    },
    invoke(component, request, limits, ctx) {
      return pool.invoke(wire(component), request, limits, ctx);
    },
    warm(component, limits, owner) {
      return pool.warm(wire(component), limits, owner);
    },
    setGatewayListeners(listeners) {
      pool.setGatewayListeners(listeners);
    },
    listenInWorkers: (listen, served) => pool.listenInWorkers(listen, served),
    offerRoute(host, component, limits, ctx, maxBodyBytes, tag) {
      pool.offerRoute(host, wire(component), limits, ctx, maxBodyBytes, tag);
    },
    resetRoutes: () => pool.resetRoutes(),
    stopListening: () => pool.stopListening(),
    async close() {
      await Promise.all([pool.close(), preparer.close()]);
    },
  };
}
