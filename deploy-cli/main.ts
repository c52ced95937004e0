// deploy-cli: create guest projects, serve them locally, push them to a wasmgate gateway and look
// at what is deployed. Results go to stdout (`--json` for machines), progress and errors to stderr
// (with --json, an error is the JSON on stdout only).
// Exit code 0 on success, 1 for a mistake the user can fix, 2 when the gateway or the tools failed.

import { readFile } from "node:fs/promises";
import { type ParseArgsOptionsConfig, parseArgs } from "node:util";
import { type Command, type CommandContext, GLOBAL_HELP, REMOTE_HELP, REMOTE_OPTIONS } from "./command.ts";
import { appsList } from "./commands/apps.ts";
import { secrets, vars } from "./commands/config.ts";
import { deploymentsList } from "./commands/deployments.ts";
import { dev } from "./commands/dev.ts";
import { init } from "./commands/init.ts";
import { kv } from "./commands/kv.ts";
import { login, logout } from "./commands/login.ts";
import { pushCommand } from "./commands/push.ts";
import { createCompletionCommand } from "./completion.ts";
import { CliError } from "./errors.ts";
import { colours } from "./format.ts";
import { logs } from "./logs.ts";
import { resolveTarget, type Target } from "./profiles.ts";
import { appsDelete, rollback, tenants, tokens } from "./tenancy.ts";

/** Every command, in the order `--help` lists them (and docs/reference/cli.md). */
export const COMMANDS: readonly Command[] = [
  init,
  dev,
  pushCommand,
  login,
  logout,
  appsList,
  appsDelete,
  deploymentsList,
  rollback,
  logs,
  kv,
  vars,
  secrets,
  tenants,
  tokens,
  createCompletionCommand(() => COMMANDS),
];

const GLOBAL_OPTIONS = {
  json: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const satisfies ParseArgsOptionsConfig;

/** `deploy-cli --help`. */
export function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`);
  return `Usage: deploy-cli <command> [options]

Commands:
${lines.join("\n")}

Run \`deploy-cli <command> --help\` for a command's options and examples.

Options for every command:
${GLOBAL_HELP}
Options for commands that talk to a gateway:
${REMOTE_HELP}

Examples:
  deploy-cli init hello-app && cd hello-app && deploy-cli dev
  deploy-cli push                          # in the project: builds src/index.ts, deploys, prints the URL
  deploy-cli login --gateway https://admin.edge.example.com < operator-token
  deploy-cli apps list --json
`;
}

/** `deploy-cli <command> --help`. */
export function commandHelp(command: Command): string {
  const parts = [
    `Usage: deploy-cli ${command.usage}\n\n${command.summary[0]!.toUpperCase()}${command.summary.slice(1)}.\n`,
  ];
  if (command.details) parts.push(`${command.details}\n`);
  parts.push(`Options:\n${GLOBAL_HELP}${command.remote ? `\n${REMOTE_HELP}` : ""}\n`);
  parts.push(`Examples:\n${command.examples.map((e) => `  ${e}`).join("\n")}\n`);
  return parts.join("\n");
}

/** The command named by the leading words of `positionals` (two-word names first). */
function findCommand(positionals: string[]): { command: Command; rest: string[] } | undefined {
  for (const words of [2, 1]) {
    const name = positionals.slice(0, words).join(" ");
    const command = COMMANDS.find((c) => c.name === name);
    if (command && positionals.length >= words) return { command, rest: positionals.slice(words) };
  }
  return undefined;
}

/** The error once: as JSON on stdout with --json, else as text on stderr. */
function report(err: CliError, json: boolean): number {
  if (json) {
    const body = { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) };
    process.stdout.write(
      `${JSON.stringify({ error: { ...body, ...(err.detail ? { detail: err.detail } : {}) } })}\n`,
    );
    return err.exitCode;
  }
  if (err.detail) process.stderr.write(`${err.detail.trimEnd()}\n\n`);
  const { red, yellow } = colours(process.stderr);
  process.stderr.write(
    `${red("deploy-cli:")} ${err.message}\n${err.hint ? `${yellow("hint:")} ${err.hint}\n` : ""}`,
  );
  return err.exitCode;
}

/** Names users bring from wrangler and spin, each for the command it means here. */
const ALIASES: Readonly<Record<string, string>> = { deploy: "push" };

/** The one of `names` a mistyped `word` is closest to, if one is close (did you mean…). */
function nearest(word: string, names: readonly string[] = commandWords()): string | undefined {
  const distance = (a: string, b: string) => {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) d[0]![j] = j;
    for (let i = 1; i <= a.length; i++)
      for (let j = 1; j <= b.length; j++)
        d[i]![j] = Math.min(
          d[i - 1]![j]! + 1,
          d[i]![j - 1]! + 1,
          d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
        );
    return d[a.length]![b.length]!;
  };
  const [best] = names.map((n) => [n, distance(word, n)] as const).sort((a, b) => a[1] - b[1]);
  return best && best[1] <= Math.max(1, Math.floor(word.length / 3)) ? best[0] : undefined;
}

function commandWords(): string[] {
  return [...new Set(COMMANDS.map((c) => c.name.split(" ")[0]!)), ...Object.keys(ALIASES)];
}

/** Node's parser refusal as a usage error in our words, with the option it was likely meant as. */
function optionError(err: unknown, command: Command, options: ParseArgsOptionsConfig): CliError {
  const { code, message } = err as { code?: string; message: string };
  const help = `deploy-cli ${command.name} --help`;
  const flag = /'(-{1,2}[^' ]+)/.exec(message)?.[1];
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && flag) {
    const guess = nearest(flag.replace(/^-+/, ""), Object.keys(options));
    return new CliError("ERR_USAGE", `deploy-cli ${command.name} has no option ${flag}`, {
      hint: guess ? `did you mean --${guess}? (${help} lists them)` : `${help} lists its options`,
    });
  }
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && flag) {
    const takes = options[flag.replace(/^-+/, "")]?.type === "boolean" ? "takes no value" : "needs a value";
    return new CliError("ERR_USAGE", `${flag} ${takes}`, { hint: help });
  }
  return new CliError("ERR_USAGE", message, { hint: help });
}

/** The package's version, for `--version`. */
async function version(): Promise<string> {
  const pkg = JSON.parse(await readFile(new URL("../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

export async function main(rawArgv: string[]): Promise<number> {
  if (rawArgv.length === 1 && (rawArgv[0] === "--version" || rawArgv[0] === "-V")) {
    process.stdout.write(`deploy-cli ${await version()} (wasmgate)\n`);
    return 0;
  }
  let argv =
    rawArgv[0] !== undefined && rawArgv[0] in ALIASES ? [ALIASES[rawArgv[0]]!, ...rawArgv.slice(1)] : rawArgv;
  // `help <command>` is `<command> --help`.
  if (argv[0] === "help" && argv.length > 1) argv = [...argv.slice(1), "--help"];
  const wantsJson = argv.includes("--json");
  // Options are only known once the command is: find it from the words before the first flag.
  const words = argv.slice(0, argv.findIndex((a) => a.startsWith("-")) >>> 0);
  const found = findCommand(words.length > 0 ? words : argv.filter((a) => !a.startsWith("-")));
  if (!found) {
    const help = argv.includes("--help") || argv.includes("-h");
    const named = argv.filter((a) => !a.startsWith("-"));
    // `apps --help`: the commands of the group.
    const group = COMMANDS.filter((c) => c.name.startsWith(`${named[0]} `));
    if (help && group.length > 0) {
      process.stdout.write(group.map(commandHelp).join("\n"));
      return 0;
    }
    if (help || named.length === 0) {
      process.stdout.write(overview());
      return help ? 0 : 1;
    }
    const guess = nearest(named[0]!);
    return report(
      new CliError("ERR_USAGE", `unknown command "${named.slice(0, 2).join(" ")}"`, {
        hint: guess
          ? `did you mean \`deploy-cli ${guess}\`? (deploy-cli --help lists them)`
          : "deploy-cli --help",
      }),
      wantsJson,
    );
  }
  const { command } = found;
  const options = { ...GLOBAL_OPTIONS, ...(command.remote ? REMOTE_OPTIONS : {}), ...command.options };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options });
  } catch (err) {
    return report(optionError(err, command, options), wantsJson);
  }
  const { values } = parsed;
  if (values.help) {
    process.stdout.write(commandHelp(command));
    return 0;
  }
  const json = values.json === true;
  let target: Target | undefined;
  const ctx: CommandContext = {
    args: parsed.positionals.slice(command.name.split(" ").length),
    values,
    json,
    target() {
      target ??= resolveTarget({
        gateway: values.gateway as string | undefined,
        token: values.token as string | undefined,
        profile: values.profile as string | undefined,
        stateDir: values["state-dir"] as string | undefined,
        tenant: values.tenant as string | undefined,
      });
      return target;
    },
    result(data, text) {
      process.stdout.write(json ? `${JSON.stringify(data)}\n` : text);
    },
    progress(line) {
      process.stderr.write(`${line}\n`);
    },
  };
  try {
    await command.run(ctx);
    return 0;
  } catch (caught) {
    const err =
      caught instanceof CliError
        ? caught
        : new CliError(
            "ERR_INTERNAL",
            `deploy-cli failed unexpectedly: ${(caught as Error)?.message ?? caught}`,
          );
    return report(err, json);
  }
}
