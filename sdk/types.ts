// The types a guest written with the wasmgate SDK sees, shaped like Cloudflare Workers' so that
// handlers (and frameworks such as Hono) move over unchanged. Types only: `deploy-cli init` wraps
// this file in `declare module "wasmgate"` for a project's editor, so it must stay free of imports
// and runtime code.

/** Lets a handler keep working after its response has been sent. */
export interface ExecutionContext {
  /** The request stays alive (within its deadline) until `promise` settles. */
  waitUntil(promise: Promise<unknown>): void;
  /** Accepted for compatibility; wasmgate has no origin to fall back to. */
  passThroughOnException(): void;
}

/** What a guest module exports as its default: `export default { async fetch(request, env, ctx) {…} }`. */
export interface ExportedHandler<E = Env> {
  fetch(request: Request, env: E, ctx: ExecutionContext): Response | Promise<Response>;
}

/**
 * What `env` holds: the key-value namespaces bound in `wasmgate.json` (`"buckets": {"KV": "default"}`)
 * and the app's variables and secrets (`deploy-cli vars set`, `deploy-cli secrets put`), read when
 * first touched in a request. Declare your own interface for precise types:
 * `interface Env { KV: KVNamespace; GREETING?: string }`.
 */
export interface Env {
  [name: string]: KVNamespace | string | undefined;
}

export type KVValueType = "text" | "json" | "arrayBuffer" | "stream";

export interface KVNamespaceGetOptions<T extends KVValueType = KVValueType> {
  type: T;
  /** Accepted for compatibility; reads always go to the store. */
  cacheTtl?: number;
}

export interface KVNamespacePutOptions {
  /** Seconds since the epoch at which the entry disappears. */
  expiration?: number;
  /** Seconds from now until the entry disappears. */
  expirationTtl?: number;
  /** Any JSON-serialisable value stored with the entry, at most 1 KiB once serialised. */
  metadata?: unknown;
}

export interface KVNamespaceListOptions {
  /** Only keys starting with this text. */
  prefix?: string | null;
  /** The `cursor` of the previous page. */
  cursor?: string | null;
  /** Most keys on the page, 1 to 1000 (default 1000). */
  limit?: number;
}

export interface KVNamespaceListKey {
  name: string;
}

export type KVNamespaceListResult =
  | { keys: KVNamespaceListKey[]; list_complete: false; cursor: string }
  | { keys: KVNamespaceListKey[]; list_complete: true; cursor?: undefined };

export interface KVNamespaceGetWithMetadataResult<V, M> {
  value: V | null;
  metadata: M | null;
}

/**
 * What a KV call throws when the store refuses or fails: `detail` is the store's own error, such
 * as `access-denied` (the bucket is not granted) or `ERR_KV_UNAVAILABLE: …`.
 */
export interface KVError extends Error {
  readonly name: "KVError";
  readonly detail: string;
}

/** A key-value bucket, on `wasi:keyvalue` and wasmgate's extension (expiry, metadata, prefixes). */
export interface KVNamespace {
  get(key: string, type?: "text" | { type: "text"; cacheTtl?: number }): Promise<string | null>;
  get<T = unknown>(key: string, type: "json" | { type: "json"; cacheTtl?: number }): Promise<T | null>;
  get(
    key: string,
    type: "arrayBuffer" | { type: "arrayBuffer"; cacheTtl?: number },
  ): Promise<ArrayBuffer | null>;
  get(
    key: string,
    type: "stream" | { type: "stream"; cacheTtl?: number },
  ): Promise<ReadableStream<Uint8Array> | null>;

  getWithMetadata<M = unknown>(
    key: string,
    type?: "text" | { type: "text" },
  ): Promise<KVNamespaceGetWithMetadataResult<string, M>>;
  getWithMetadata<T = unknown, M = unknown>(
    key: string,
    type: "json" | { type: "json" },
  ): Promise<KVNamespaceGetWithMetadataResult<T, M>>;
  getWithMetadata<M = unknown>(
    key: string,
    type: "arrayBuffer" | { type: "arrayBuffer" },
  ): Promise<KVNamespaceGetWithMetadataResult<ArrayBuffer, M>>;
  getWithMetadata<M = unknown>(
    key: string,
    type: "stream" | { type: "stream" },
  ): Promise<KVNamespaceGetWithMetadataResult<ReadableStream<Uint8Array>, M>>;

  put(
    key: string,
    value: string | ArrayBuffer | ArrayBufferView | ReadableStream<Uint8Array>,
    options?: KVNamespacePutOptions,
  ): Promise<void>;

  delete(key: string): Promise<void>;

  /** One page of key names, in order; `metadata` is not listed (read it with getWithMetadata). */
  list(options?: KVNamespaceListOptions): Promise<KVNamespaceListResult>;

  /** wasmgate's addition: adds `delta` (default 1) to a counter atomically; returns the new value. */
  increment(key: string, delta?: number): Promise<number>;
}
