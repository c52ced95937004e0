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
  ERR_RUNTIME_OVERLOADED: 503,
  ERR_RUNTIME_CLOSED: 503,
  ERR_RUNTIME_ARTIFACT_MISSING: 500,
} as const;

export type RuntimeErrorCode = keyof typeof RUNTIME_ERRORS;

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
