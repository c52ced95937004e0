// What a deploy-cli command is. main.ts keeps the list; a command module exports one of these, so
// adding a command is one import and one entry in that list.

import type { ParseArgsOptionsConfig } from "node:util";
import type { Target } from "./profiles.ts";

export interface Command {
  /** The words that select it: "push", "apps list". */
  name: string;
  /** One line for `deploy-cli --help`. */
  summary: string;
  /** The synopsis after `deploy-cli`, e.g. "push [entry] [--app <name>]". */
  usage: string;
  /** More about what it does and its options, for `deploy-cli <command> --help`. */
  details?: string;
  examples: string[];
  options?: ParseArgsOptionsConfig;
  /**
   * The words its first argument takes, for a command that has several actions in one
   * (`kv get|put|delete|list`); shell completion offers them. Two-word commands ("apps list")
   * are found from their names instead.
   */
  subcommands?: readonly string[];
  /** It talks to a gateway, so it takes --gateway, --token, --profile and --state-dir. */
  remote?: boolean;
  run(ctx: CommandContext): Promise<void>;
}

export interface CommandContext {
  /** Positional arguments after the command's words. */
  args: string[];
  values: Record<string, unknown>;
  json: boolean;
  /** Gateway URL and token, resolved on first use (flags, environment, profile, state directory). */
  target(): Target;
  /** Prints the command's result: `json` with --json, otherwise `text`. */
  result(json: unknown, text: string): void;
  /** A progress line on stderr (results stay alone on stdout). */
  progress(line: string): void;
}

/** The options every command takes, as both the overview and each command's help show them. */
export const GLOBAL_HELP = `  --json             print the result (or the error) as JSON on stdout
  --help, -h         show help`;

/** Options every command that talks to a gateway takes. */
export const REMOTE_OPTIONS = {
  gateway: { type: "string" },
  token: { type: "string" },
  profile: { type: "string" },
  "state-dir": { type: "string" },
  tenant: { type: "string" },
} as const satisfies ParseArgsOptionsConfig;

export const REMOTE_HELP = `  --gateway <url>    admin API URL [WASMGATE_URL] (default: the profile's, else http://127.0.0.1:8788)
  --token <jwt>      bearer token [WASMGATE_TOKEN] (default: the profile's, else <state-dir>/operator-token)
  --profile <name>   a profile saved by \`deploy-cli login\` [WASMGATE_PROFILE] (default: default)
  --state-dir <dir>  a local gateway's state directory [WASMGATE_STATE_DIR] (default: .wasmgate)
  --tenant <name>    the app's tenant, for the operator's token [WASMGATE_TENANT] (needed when
                     tenants have apps of the same name; a tenant's token means its own)`;

/** The gateway-facing part of a context, in the shape the kv and config commands take. */
export function remoteCommon(ctx: CommandContext): {
  gateway: string;
  token: string | undefined;
  tenant: string | undefined;
  json: boolean;
} {
  const { gateway, token, tenant } = ctx.target();
  return { gateway, token, tenant, json: ctx.json };
}
