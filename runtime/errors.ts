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
  ERR_RUNTIME_TRAP: 500,
  ERR_RUNTIME_NO_RESPONSE: 500,
  ERR_RUNTIME_GUEST_ERROR: 502,
  ERR_RUNTIME_INSTANTIATE: 500,
  ERR_RUNTIME_WORKER_RESTARTED: 503,
  ERR_RUNTIME_OVERLOADED: 503,
  ERR_RUNTIME_CLOSED: 503,
  ERR_RUNTIME_ARTIFACT_MISSING: 500,
} as const;

export type RuntimeErrorCode = keyof typeof RUNTIME_ERRORS;

export class RuntimeError extends Error {
  override readonly name = "RuntimeError";
  readonly code: RuntimeErrorCode;
  readonly status: number;
  constructor(code: RuntimeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.status = RUNTIME_ERRORS[code];
  }
}

export function isRuntimeErrorCode(code: unknown): code is RuntimeErrorCode {
  return typeof code === "string" && Object.hasOwn(RUNTIME_ERRORS, code);
}
