// The protocol between the main thread (runtime/host/) and the worker threads (runtime/worker/):
// the messages each way, what a worker is started with, and the shapes both sides agree on. The
// two sides share nothing else but the CPU slot's layout (cpu-slot.ts).

import type { RedisTopology } from "../kv/index.ts";
import type { Grants } from "./capabilities/grants.ts";
import type { GatewayListeners } from "./capabilities/outbound-http/hosts.ts";
import type { ComponentInfo, DeployHost } from "./component-info.ts";
import type { RuntimeErrorCode } from "./errors.ts";
import type { GuestLimits } from "./limits.ts";

export interface WireDeployment {
  /** Identifies the compiled artifact (its digest); pools are keyed by it, the memory cap and the app. */
  key: string;
  dir: string;
  info: ComponentInfo;
}

export interface WireRequest {
  method: string;
  pathWithQuery: string;
  scheme: "http" | "https";
  authority: string;
  headers: [string, string][];
  /** The whole body, or "stream" when it follows in `body` messages. */
  body: Uint8Array | "stream" | undefined;
}

/**
 * Which special addresses (loopback, private, link-local…) an app's outbound calls may reach: the
 * operator's, never the app's own allow-list (see capabilities/outbound-hosts.ts).
 */
export interface NetworkGrant {
  /** CIDRs the operator opened for the app's tenant (`10.0.0.0/8`). */
  allowPrivateNetwork: readonly string[];
  /**
   * Local development (apps of the built-in default tenant): a special address a matching pattern
   * names literally, or loopback named `localhost`, is allowed, and so is the gateway's data port.
   */
  trustAllowList: boolean;
}

/**
 * What the request may touch: its app's tenant, what the app is granted (by field, see
 * capabilities/grants.ts), the special addresses the operator opened, and its variables and
 * secrets (merged) for wasi:config.
 */
export interface WireAccess {
  tenant: string;
  /** The app the requests are for: instances are never shared with another app. */
  app: string;
  grants: Grants;
  network: NetworkGrant;
  config: readonly (readonly [string, string])[];
}

export interface WireLimits extends GuestLimits {
  maxInstances: number;
  maxUses: number;
  /** How long a request may wait for an instance of its app before 503 ERR_RUNTIME_OVERLOADED. */
  maxQueueMs: number;
}

export type ToWorker =
  /** Sent once per worker before the first invoke of a deployment. */
  | { type: "register"; deployment: WireDeployment }
  /**
   * The limits and access of the requests that name `id` as their context: sent once per worker
   * for each app (and again when they change), not with every request. `replaces` is forgotten.
   */
  | { type: "context"; id: number; limits: WireLimits; access: WireAccess; replaces?: number }
  /** Forget every context: later requests name only contexts sent after this. */
  | { type: "contexts-reset" }
  /** The gateway's own listening ports, which guests may not call (also in a new worker's data). */
  | { type: "listeners"; listeners: GatewayListeners }
  | {
      type: "invoke";
      id: number;
      deployment: string;
      context: number;
      request: WireRequest;
    }
  | { type: "body"; id: number; data: Uint8Array }
  | { type: "body-end"; id: number; error?: string }
  /** The main thread has passed on `bytes` more of the response: the worker may send that much more. */
  | { type: "ack"; id: number; bytes: number }
  | { type: "cancel"; id: number; reason: string }
  | { type: "evict"; key: string }
  /**
   * Load a just-deployed component and start one instance, so its first request finds it warm;
   * the worker answers `warmed` with the same id, whatever the outcome.
   */
  | { type: "warm"; id: number; key: string; limits: WireLimits; tenant: string; app: string }
  /** Where this worker's own listener goes, once it is told to listen (see runtime/worker/listener.ts). */
  | { type: "front"; front: FrontConfig }
  /** Open the listener on the shared port (a worker put in service), or close it (shutdown). */
  | { type: "listen" }
  | { type: "unlisten" }
  /** The host a worker answers itself from now on: a Host header, lower-case, as clients send it. */
  | { type: "front-route"; host: string; route: FrontRoute }
  /** Forget every host: the next request of each goes to the main thread, which offers it again. */
  | { type: "front-reset" };

/** Response headers as Node writes them: lower-case names, repeated ones as arrays. */
export type WireHeaders = Record<string, string | string[]>;

export type FromWorker =
  | {
      type: "response";
      id: number;
      status: number;
      headers: WireHeaders;
      body: Uint8Array<ArrayBuffer>;
    }
  | { type: "head"; id: number; status: number; headers: WireHeaders }
  | { type: "chunk"; id: number; data: Uint8Array<ArrayBuffer> }
  | { type: "end"; id: number }
  | { type: "abort"; id: number; code: RuntimeErrorCode; message: string }
  | { type: "error"; id: number; code: RuntimeErrorCode; message: string }
  /** The guest consumed `bytes` of the request body: the main thread may send that much more. */
  | { type: "body-ack"; id: number; bytes: number }
  | { type: "log"; id: number; stream: "stdout" | "stderr"; line: string }
  /** The worker has loaded its code and takes requests. */
  | { type: "ready" }
  /** The `warm` with this id is done (or failed: the first request reports why). */
  | { type: "warmed"; id: number }
  /**
   * The worker unloaded an app's pool of a deployment (its key): to stay within its memory budget,
   * or because the app had no request for `unloadIdleMs`.
   */
  | { type: "unloaded"; key: string; reason: "budget" | "idle" }
  /** The worker's listener is open (`prefix` starts the request ids it gives), or closed. */
  | { type: "listening"; prefix: string }
  | { type: "unlistened" }
  /** Requests the worker's own listener answered, for metrics and the log stream (every few ms). */
  | { type: "served"; requests: ServedRecord[] }
  /** A line a guest wrote while serving a request of the worker's own listener. */
  | { type: "front-output"; route: number; requestId: string; stream: "stdout" | "stderr"; line: string }
  /** An error the worker's own listener answered with (5xx) or ran into, for the gateway's log. */
  | { type: "front-warning"; route: number; requestId: string; code: string | undefined; message: string };

/**
 * A guest worker's own listener on the data port (Linux `SO_REUSEPORT`): it answers the requests
 * it can itself and passes the others to the main thread's listener on `fallbackPort`.
 */
export interface FrontConfig {
  host: string;
  port: number;
  /** The main thread's listener for what a worker does not answer itself (loopback only). */
  fallbackPort: number;
  /** Sent with each passed-on request, so the main thread trusts the client address it names. */
  fallbackSecret: string;
  /** Where the worker writes request log lines itself (the gateway's JSON log), or "main" to leave them to it. */
  requestLog: { fd: number } | "main" | "off";
  /** Requests one app may have waiting in this worker beyond its instances, before 503. */
  maxQueuedPerApp: number;
  /**
   * The shared table of requests in flight on this worker's connections: on a CPU-limit kill the
   * main thread answers them (503) on their sockets before the worker goes (see FRONT_SLOTS).
   */
  inFlight: SharedArrayBuffer;
}

/**
 * The header a request a worker passes on names its client with: `<secret> <address> <port>`, then
 * `<prefix> <id>` (the worker's request-id prefix, the request's id in its in-flight table) if it has one.
 */
export const FORWARDED_PEER_HEADER = "x-wasmgate-peer";

/** A request a worker's own listener answered (`route`: the FrontRoute's id). */
export interface ServedRecord {
  route: number;
  requestId: string;
  method: string;
  path: string;
  status: number;
  ms: number;
}

/** Entries in the in-flight table of a worker's listener; more requests at once are passed on. */
export const FRONT_SLOTS = 4096;
/** Each entry: the request's id (0: free), its socket's file descriptor, its state. */
export const FRONT_ENTRY = 3;
/** Entry states: the answer's head has not gone out yet, or it has. */
export const FRONT_WAITING = 1;
export const FRONT_ANSWERING = 2;

/** What a worker needs to answer a host itself: the app's active deployment, limits and access. */
export interface FrontRoute {
  /** Names the route in "served" messages; the main thread knows what it stands for. */
  id: number;
  deployment: WireDeployment;
  limits: WireLimits;
  access: WireAccess;
  /** Larger request bodies are refused (413), which the main thread answers. */
  maxBodyBytes: number;
}

/**
 * Which key-value store guests use; each worker opens its own client from this description (plain
 * data: a Redis topology is one server's URL, a Cluster's nodes, or the sentinels and master name).
 */
export type KvBackendConfig = { kind: "redis"; topology: RedisTopology } | { kind: "sqlite"; path: string };

/** Statuses whose responses carry no body, whatever the guest wrote. */
export const NULL_BODY_STATUS: ReadonlySet<number> = new Set([204, 205, 304]);

/** Deploy-time limits for the prepare worker. */
export interface PrepareLimits {
  /** Largest component accepted. */
  maxBytes: number;
  /** Linear memory cap the app runs with: a component starting with more is refused. */
  memoryBytes: number;
}

/** What a gateway runs on, as a deploy-time check sees it (see Capability.refuse). */
export type { DeployHost };

/** A transpile for the prepare worker. */
export interface PrepareRequest {
  id: number;
  bytes: Uint8Array;
  outDir: string;
  limits: PrepareLimits;
  /** What the gateway runs on: some imports are refused on some backends. */
  host: DeployHost;
}
