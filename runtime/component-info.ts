// What the runtime needs to know about a prepared component, decided once at deploy time.

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
  /** The transpiled files, relative to the artifact directory. */
  readonly files: readonly string[];
}
