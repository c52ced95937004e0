// Per-request guest limits, with the defaults an app gets unless it overrides them.

/**
 * Whether an app's instances serve request after request (`reuse`: module state survives between
 * requests, as in Workers) or every request gets an instance in the state it started in
 * (`per-request`: nothing survives a request, as in Spin). Fetch-event guests always get the latter.
 */
export type InstanceMode = "reuse" | "per-request";
export const INSTANCE_MODES: readonly InstanceMode[] = ["reuse", "per-request"];

export interface GuestLimits {
  /** Guest CPU time per request; time awaiting host I/O is not counted. */
  readonly cpuMs: number;
  /** Wall-clock time per request until the guest has answered. */
  readonly deadlineMs: number;
  /** Linear memory per instance. */
  readonly memoryBytes: number;
  /** Response body bytes a guest may write. */
  readonly maxResponseBytes: number;
  /** Key-value operations per request (a batch counts one per key). */
  readonly kvOps: number;
  /** Outgoing HTTP requests per request; every redirect hop counts. */
  readonly outboundRequests: number;
  /** Time to connect to an outbound host (per hop). */
  readonly outboundConnectTimeoutMs: number;
  /** Time for a whole outbound request, redirects and response body included. */
  readonly outboundTimeoutMs: number;
  /** Response body bytes an outbound request may bring in. */
  readonly outboundMaxResponseBytes: number;
  /** Instances reused between requests, or one in its first state per request. */
  readonly instances: InstanceMode;
}

export const DEFAULT_LIMITS: GuestLimits = Object.freeze({
  cpuMs: 50,
  deadlineMs: 30_000,
  memoryBytes: 128 * 1024 * 1024,
  maxResponseBytes: 256 * 1024 * 1024,
  kvOps: 1000,
  outboundRequests: 50,
  outboundConnectTimeoutMs: 10_000,
  outboundTimeoutMs: 30_000,
  outboundMaxResponseBytes: 128 * 1024 * 1024,
  instances: "reuse",
});

/** CPU a new instance may use while starting (StarlingMonkey needs a few ms, cold JIT more). */
export const INSTANTIATE_CPU_MS = 2_000;

/**
 * Extra CPU for the first request a fresh instance serves, like Workers' separate startup budget
 * (400 ms there): V8 compiles wasm functions lazily, on the calling thread, the first time they
 * run, and a fresh engine warms its caches, so a first call pays for starting (a StarlingMonkey
 * instance's first call: 30-50 ms on an idle machine, over 150 ms with the machine loaded 4x over
 * its cores; later calls 4-8 ms). The allowance grows with the component's code size and is capped:
 * a 14 MB StarlingMonkey component gets 280 ms, a 1.6 MB QuickJS one 32 ms, a tiny one none.
 */
export const FIRST_CALL_ALLOWANCE_MS_PER_MIB = 20;
export const FIRST_CALL_ALLOWANCE_MAX_MS = 300;

export function firstCallAllowanceMs(codeBytes: number): number {
  return Math.min(
    FIRST_CALL_ALLOWANCE_MAX_MS,
    Math.round((codeBytes / (1024 * 1024)) * FIRST_CALL_ALLOWANCE_MS_PER_MIB),
  );
}

/** Stdout/stderr bytes kept per request; the rest is dropped with a note. */
export const GUEST_OUTPUT_LIMIT = 64 * 1024;

/** Bytes in flight between threads per direction of one request before the producer waits. */
export const STREAM_WINDOW = 1024 * 1024;

/** Request bodies up to this size go to the worker in one message; larger ones stream. */
export const INLINE_BODY_MAX = 64 * 1024;
