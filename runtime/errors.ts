// Every error the runtime raises, with a code callers switch on. `status` is the HTTP answer the
// gateway gives; 4xx codes are the user's to fix, 5xx are ours or the guest's.

export const RUNTIME_ERRORS = {
  ERR_COMPONENT_EMPTY: 400,
  ERR_COMPONENT_TOO_LARGE: 413,
  ERR_COMPONENT_NOT_WASM: 400,
  ERR_COMPONENT_CORE_MODULE: 400,
  ERR_COMPONENT_INVALID: 400,
  ERR_COMPONENT_NO_HANDLER: 400,
  ERR_COMPONENT_UNSUPPORTED_IMPORTS: 400,
  ERR_COMPONENT_IMPORT_UNAVAILABLE: 400,
  ERR_COMPONENT_MEMORY_TOO_LARGE: 400,
  ERR_RUNTIME_TRAP: 500,
  ERR_RUNTIME_CPU_LIMIT: 503,
  ERR_RUNTIME_DEADLINE: 504,
  ERR_RUNTIME_OUT_OF_MEMORY: 500,
  ERR_RUNTIME_RESPONSE_TOO_LARGE: 500,
  ERR_RUNTIME_BODY_TOO_LARGE: 413,
  ERR_RUNTIME_NO_RESPONSE: 500,
  ERR_RUNTIME_GUEST_ERROR: 502,
  ERR_GUEST_BAD_RESPONSE: 502,
  ERR_RUNTIME_INSTANTIATE: 500,
  ERR_RUNTIME_WORKER_RESTARTED: 503,
  ERR_RUNTIME_STALLED: 503,
  ERR_RUNTIME_OVERLOADED: 503,
  ERR_RUNTIME_CLOSED: 503,
  ERR_RUNTIME_ARTIFACT_MISSING: 500,
} as const;

export type RuntimeErrorCode = keyof typeof RUNTIME_ERRORS;

/** What each code means, in one line: docs/reference/errors.md is made from this (`npm run gen:docs`). */
export const RUNTIME_ERROR_MEANINGS: Readonly<Record<RuntimeErrorCode, string>> = {
  ERR_COMPONENT_EMPTY: "the upload is empty",
  ERR_COMPONENT_TOO_LARGE: "the upload is over the gateway's `--max-component-bytes`",
  ERR_COMPONENT_NOT_WASM: "the upload is not WebAssembly (no `\\0asm` header)",
  ERR_COMPONENT_CORE_MODULE: "the upload is a core module, not a component",
  ERR_COMPONENT_INVALID: "the component does not parse or cannot be transpiled",
  ERR_COMPONENT_NO_HANDLER:
    "the component exports neither `wasi:http/incoming-handler@0.2.x` nor `wasmgate:edge/handler`",
  ERR_COMPONENT_UNSUPPORTED_IMPORTS: "the component imports something the gateway does not provide (listed)",
  ERR_COMPONENT_IMPORT_UNAVAILABLE:
    "the component imports an interface this gateway serves only on another backend (named): Spin's `fermyon:spin/sqlite` needs the embedded SQLite store, not Redis",
  ERR_COMPONENT_MEMORY_TOO_LARGE: "the component's initial linear memory is over the app's memory limit",
  ERR_RUNTIME_TRAP: "the guest trapped; its instance is thrown away",
  ERR_RUNTIME_CPU_LIMIT: "the guest used more than its CPU budget for the request",
  ERR_RUNTIME_DEADLINE: "the guest did not answer within its deadline",
  ERR_RUNTIME_OUT_OF_MEMORY: "the guest ran out of linear memory (its memory cap)",
  ERR_RUNTIME_RESPONSE_TOO_LARGE: "the guest's response body is over its limit (a streamed body is cut off)",
  ERR_RUNTIME_BODY_TOO_LARGE: "the request body streamed into the guest went over its limit",
  ERR_RUNTIME_NO_RESPONSE: "the guest returned without setting a response",
  ERR_RUNTIME_GUEST_ERROR: "the guest answered with a wasi:http error instead of a response",
  ERR_GUEST_BAD_RESPONSE:
    "the guest's status or headers cannot be written (bad status, header name or value, too many or too large), or its body broke its own content-length",
  ERR_RUNTIME_INSTANTIATE: "the component could not be instantiated",
  ERR_RUNTIME_WORKER_RESTARTED:
    "the request's worker was replaced (another guest's CPU kill or stall, or a crash); retry, see Retry-After",
  ERR_RUNTIME_STALLED:
    "the guest ran for longer than the stall limit (2 s of wall-clock time by default) without yielding, whatever CPU it used; its worker was replaced",
  ERR_RUNTIME_OVERLOADED:
    "the app (or its tenant) already has as many requests in flight as it may (`--max-queued-per-app`, `--max-concurrent-per-tenant`); refused at once, retry after Retry-After",
  ERR_RUNTIME_CLOSED: "the gateway is shutting down",
  ERR_RUNTIME_ARTIFACT_MISSING: "a deployment's stored or prepared files are missing",
};

/** Codes after which the same request may well succeed if sent again. */
const RETRYABLE: ReadonlySet<RuntimeErrorCode> = new Set([
  "ERR_RUNTIME_WORKER_RESTARTED",
  "ERR_RUNTIME_OVERLOADED",
]);

export class RuntimeError extends Error {
  override readonly name = "RuntimeError";
  readonly code: RuntimeErrorCode;
  readonly status: number;
  /** Seconds a client should wait before retrying, when retrying makes sense. */
  readonly retryAfter: number | undefined;
  constructor(code: RuntimeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.status = RUNTIME_ERRORS[code];
    this.retryAfter = RETRYABLE.has(code) ? 1 : undefined;
  }
}

export function isRuntimeErrorCode(code: unknown): code is RuntimeErrorCode {
  return typeof code === "string" && Object.hasOwn(RUNTIME_ERRORS, code);
}
