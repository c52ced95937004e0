// What the runtime needs to know about a prepared component, decided once at deploy time.

/** What a component is prepared for: some imports are refused, or transpiled otherwise, on some backends. */
export interface DeployHost {
  /** The key-value backend guests' data goes to (undefined where the runtime has none). */
  kv: "redis" | "sqlite" | undefined;
}

export interface ComponentInfo {
  /**
   * The guest world: the standard streaming `wasi:http` proxy, or our fast `wasmgate:edge` world
   * (request and response as plain records).
   */
  readonly world: "wasi-http" | "edge";
  /** The export serving requests, e.g. `wasi:http/incoming-handler@0.2.10`. */
  readonly handlerExport: string;
  /**
   * StarlingMonkey `addEventListener('fetch')` guests can answer only one request per instance
   * ("respondWith can't be called twice"); they get a fresh instance per request.
   */
  readonly singleUse: boolean;
  /** Interfaces the component imports, unversioned. */
  readonly imports: readonly string[];
  /**
   * Which revision of each capability's interfaces the component imports, by capability name, as
   * the capability read it from the component's own types (e.g. `{ keyvalue: "0.2.0-draft" }`);
   * each instance is linked to that revision's host functions. Absent only in info written before
   * revisions were recorded (see isCurrentInfo).
   */
  readonly revisions?: Readonly<Record<string, string>>;
  /**
   * The key-value store of the gateway it was transpiled for: which host imports wait depends on
   * it (Capability.asyncImports), so it runs only there. Prepared for the embedded store, its store
   * calls are plain calls, which a Redis call's promise would break. Absent in info written before
   * it was recorded (every store call then suspends).
   */
  readonly preparedFor?: DeployHost["kv"];
  /** The transpiled files, relative to the artifact directory. */
  readonly files: readonly string[];
  /**
   * SHA-256 (base64url) of each transpiled file's bytes, by name: a worker loads the glue and
   * compiles a core module once per content (worker/shared-code.ts) without reading the file to
   * find out. Absent in info written before digests were recorded: the worker then hashes the file.
   */
  readonly digests?: Readonly<Record<string, string>>;
}

/**
 * Whether `info` can serve on `host` as it is: written by a preparer that records everything
 * above, for the same key-value store. Others are prepared again, so a component is never linked
 * to the wrong revision, nor its store calls to a store that answers them differently.
 */
export function isCurrentInfo(info: ComponentInfo, host: DeployHost): boolean {
  return typeof info.revisions === "object" && info.revisions !== null && info.preparedFor === host.kv;
}
