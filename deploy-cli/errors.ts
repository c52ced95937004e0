// CLI failures: a message that says what to do next, and an exit code (1: the user's to fix,
// 2: the gateway or the network failed).

export class CliError extends Error {
  override readonly name = "CliError";
  readonly exitCode: 1 | 2;
  readonly code: string;
  readonly hint: string | undefined;
  /** Longer output behind the one-line message (a compiler's error), printed before it. */
  readonly detail: string | undefined;
  constructor(
    code: string,
    message: string,
    options: { exitCode?: 1 | 2; hint?: string | undefined; detail?: string; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.code = code;
    this.exitCode = options.exitCode ?? 1;
    this.hint = options.hint;
    this.detail = options.detail;
  }
}

/** A command used wrongly: exit 1, pointing at the help. */
export function usage(text: string): CliError {
  return new CliError("ERR_USAGE", text, { hint: "deploy-cli --help" });
}
