// CLI failures: a message that says what to do next, and an exit code (1: the user's to fix,
// 2: the gateway, the network or the tools failed).

/**
 * The CLI's own codes, with their exit code and what each means in one line. docs/reference/errors.md
 * is made from this (`npm run gen:docs`); a code missing here does not compile.
 */
export const CLI_ERRORS = {
  ERR_USAGE: {
    exitCode: 1,
    meaning: "a command used wrongly: unknown command or option, missing or malformed argument",
  },
  ERR_FILE_NOT_FOUND: { exitCode: 1, meaning: "the entry (component or module) does not exist" },
  ERR_NOT_A_FILE: { exitCode: 1, meaning: "the entry is a directory, not a component or a module" },
  ERR_ENTRY_UNSUPPORTED: {
    exitCode: 1,
    meaning: "the entry is neither a `.wasm` component nor a `.ts`/`.js` module",
  },
  ERR_FAST_NEEDS_HANDLER: {
    exitCode: 1,
    meaning: "an SDK guest (`export default { fetch }`) cannot be built with `--fast`",
  },
  ERR_BUILD_FAILED: {
    exitCode: 1,
    meaning: "the entry does not build; the compiler's output is printed first",
  },
  ERR_TYPE_CHECK_FAILED: {
    exitCode: 1,
    meaning:
      "a TypeScript entry has type errors (`tsc --noEmit` on its tsconfig.json, before the build); each is printed first",
  },
  ERR_BUILD_TOOL: { exitCode: 2, meaning: "the build tools themselves failed (not the code they built)" },
  ERR_MANIFEST_NOT_FOUND: { exitCode: 1, meaning: "the manifest `--manifest` names does not exist" },
  ERR_MANIFEST_INVALID: {
    exitCode: 1,
    meaning: "`wasmgate.json` is not valid JSON, or one of its fields is wrong",
  },
  ERR_DIR_NOT_EMPTY: { exitCode: 1, meaning: "`init`: the folder exists and is not empty" },
  ERR_NOT_A_DIRECTORY: { exitCode: 1, meaning: "`init`: the path exists and is not a folder" },
  ERR_PROFILE_NOT_FOUND: {
    exitCode: 1,
    meaning: "no profile of that name was saved with `deploy-cli login`",
  },
  ERR_CONFIG_INVALID: { exitCode: 1, meaning: "the saved profiles file is not valid JSON" },
  ERR_APP_NOT_FOUND: {
    exitCode: 1,
    meaning: "`push`: the app does not exist, and no hostname was given to create it with",
  },
  ERR_PORT_IN_USE: {
    exitCode: 1,
    meaning: "`dev`: the port cannot be listened on (in use by another process?)",
  },
  ERR_GATEWAY_UNREACHABLE: { exitCode: 2, meaning: "the gateway cannot be reached at the URL in use" },
  ERR_BAD_RESPONSE: {
    exitCode: 2,
    meaning: "the gateway answered with a body that is not JSON (is the URL the data plane's?)",
  },
  ERR_LOG_STREAM_ENDED: { exitCode: 2, meaning: "`logs --follow`: the gateway ended the log stream" },
  ERR_LOG_STREAM_FAILED: { exitCode: 2, meaning: "`logs --follow`: the log stream broke off" },
  ERR_INTERNAL: { exitCode: 2, meaning: "deploy-cli failed unexpectedly" },
} as const satisfies Record<string, { exitCode: 1 | 2; meaning: string }>;

export type CliErrorCode = keyof typeof CLI_ERRORS;

/** A refusal the gateway answered with: its code is passed on as it is. */
export interface GatewayRefusal {
  readonly gateway: string;
}

export class CliError extends Error {
  override readonly name = "CliError";
  readonly exitCode: 1 | 2;
  /** One of CLI_ERRORS, or the code the gateway answered with. */
  readonly code: string;
  readonly hint: string | undefined;
  /** Longer output behind the one-line message (a compiler's error), printed before it. */
  readonly detail: string | undefined;
  constructor(
    code: CliErrorCode | GatewayRefusal,
    message: string,
    options: { exitCode?: 1 | 2; hint?: string | undefined; detail?: string; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.code = typeof code === "string" ? code : code.gateway;
    this.exitCode = options.exitCode ?? (typeof code === "string" ? CLI_ERRORS[code].exitCode : 1);
    this.hint = options.hint;
    this.detail = options.detail;
  }
}

/** A command used wrongly: exit 1, pointing at the help. */
export function usage(text: string): CliError {
  return new CliError("ERR_USAGE", text, { hint: "deploy-cli --help" });
}
