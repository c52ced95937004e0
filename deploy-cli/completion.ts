// deploy-cli completion bash|zsh|fish: a completion script made from the command table itself
// (main.ts's list), so a new command, subcommand or flag completes without touching this file.

import type { ParseArgsOptionsConfig } from "node:util";
import { type Command, REMOTE_OPTIONS } from "./command.ts";
import { CliError } from "./errors.ts";

export const SHELLS = ["bash", "zsh", "fish"] as const;
export type Shell = (typeof SHELLS)[number];

/** The flags every command takes (main.ts's GLOBAL_OPTIONS). */
const GLOBAL_FLAGS = ["--json", "--help", "-h"];
/** Flags whose value is a path: their value completes as a file name. */
const PATH_FLAGS = new Set(["manifest", "file", "persist-to", "state-dir"]);

interface Word {
  word: string;
  summary: string;
  /** Flags at this position, each `--name` (and `-x` for a short one); undefined: the parent's. */
  flags?: string[];
}

/** A first word: a command, or a group of two-word commands ("apps"). */
interface TopWord extends Word {
  subs: Word[];
}

function flagsOf(command: Command): string[] {
  const options: ParseArgsOptionsConfig = { ...(command.remote ? REMOTE_OPTIONS : {}), ...command.options };
  const flags = [...GLOBAL_FLAGS];
  for (const [name, option] of Object.entries(options)) {
    flags.push(`--${name}`);
    if (option.short) flags.push(`-${option.short}`);
  }
  return [...new Set(flags)];
}

/** The words of the command table, as completion walks them. */
export function completionTable(commands: readonly Command[]): TopWord[] {
  const top = new Map<string, TopWord>();
  for (const command of commands) {
    const [first, second] = command.name.split(" ") as [string, string | undefined];
    let entry = top.get(first);
    if (!entry) {
      entry = { word: first, summary: second ? `${first} commands` : command.summary, subs: [] };
      top.set(first, entry);
    }
    if (second) entry.subs.push({ word: second, summary: command.summary, flags: flagsOf(command) });
    else {
      entry.summary = command.summary;
      entry.flags = flagsOf(command);
      for (const s of command.subcommands ?? []) entry.subs.push({ word: s, summary: `${first} ${s}` });
    }
  }
  return [...top.values()];
}

/** Every flag of any command that takes a value: the word after it is not a command word. */
function valueFlags(commands: readonly Command[]): string[] {
  const out = new Set<string>();
  for (const c of commands) {
    const options: ParseArgsOptionsConfig = { ...(c.remote ? REMOTE_OPTIONS : {}), ...c.options };
    for (const [name, option] of Object.entries(options)) if (option.type === "string") out.add(`--${name}`);
  }
  return [...out].sort();
}

/** `text` as one single-quoted word of a POSIX shell (and of fish and zsh). */
function quoted(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** The completion script for `shell`, for a command named `deploy-cli`. */
export function completionScript(shell: Shell, commands: readonly Command[]): string {
  const table = completionTable(commands);
  const values = valueFlags(commands);
  const paths = [...PATH_FLAGS].map((f) => `--${f}`);
  if (shell === "bash") return bashScript(table, values, paths);
  if (shell === "zsh") return zshScript(table, values, paths);
  return fishScript(table, commands);
}

/** `case` arms naming the flags at each (command, subcommand) position. */
function flagArms(table: TopWord[], indent: string): string {
  const arms: string[] = [];
  for (const t of table) {
    for (const s of t.subs)
      if (s.flags)
        arms.push(`${indent}${quoted(`${t.word} ${s.word}`)}) flags=${quoted(s.flags.join(" "))} ;;`);
    arms.push(`${indent}${quoted(t.word)}" "*) flags=${quoted((t.flags ?? GLOBAL_FLAGS).join(" "))} ;;`);
  }
  arms.push(`${indent}*) flags=${quoted([...GLOBAL_FLAGS, "--version"].join(" "))} ;;`);
  return arms.join("\n");
}

function subArms(table: TopWord[], indent: string): string {
  return table
    .filter((t) => t.subs.length > 0)
    .map((t) => `${indent}${quoted(t.word)}) subs=${quoted(t.subs.map((s) => s.word).join(" "))} ;;`)
    .join("\n");
}

/** The loop that finds the command and subcommand words before the cursor. */
function wordLoop(first: string, words: string, cword: string, values: string[]): string {
  return `  local cmd="" sub="" i w
  for ((i = ${first}; i < ${cword}; i++)); do
    w="\${${words}[i]}"
    case "$w" in
      ${values.join("|")}) ((i++)); continue ;;
      -*) continue ;;
    esac
    if [[ -z $cmd ]]; then cmd="$w"; elif [[ -z $sub ]]; then sub="$w"; break; fi
  done`;
}

function bashScript(table: TopWord[], values: string[], paths: string[]): string {
  return `# deploy-cli completion for bash. Load it with:
#   source <(deploy-cli completion bash)
# or save it as ~/.local/share/bash-completion/completions/deploy-cli.
_deploy_cli() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  COMPREPLY=()
  case "$prev" in
    ${paths.join("|")}) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    ${values.join("|")}) return ;;
  esac
${wordLoop("1", "COMP_WORDS", "COMP_CWORD", values)}
  local subs="" flags="" words=""
  case "$cmd" in
${subArms(table, "    ")}
  esac
  case "$cmd $sub" in
${flagArms(table, "    ")}
  esac
  if [[ $cur == -* ]]; then
    words="$flags"
  elif [[ -z $cmd ]]; then
    words=${quoted(table.map((t) => t.word).join(" "))}
  elif [[ -z $sub && -n $subs ]]; then
    words="$subs"
  else
    COMPREPLY=($(compgen -f -- "$cur"))
    return
  fi
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _deploy_cli deploy-cli
`;
}

/** `word:description` for zsh's _describe, with the colons of the word escaped. */
function described(word: Word): string {
  return quoted(`${word.word.replaceAll(":", "\\:")}:${word.summary}`);
}

function zshScript(table: TopWord[], values: string[], paths: string[]): string {
  const subLists = table
    .filter((t) => t.subs.length > 0)
    .map((t) => `    ${quoted(t.word)}) subs=(${t.subs.map(described).join(" ")}) ;;`)
    .join("\n");
  return `#compdef deploy-cli
# deploy-cli completion for zsh. Load it with:
#   source <(deploy-cli completion zsh)
# or save it as _deploy-cli in a folder of $fpath.
_deploy_cli() {
  local cur="\${words[CURRENT]}" prev="\${words[CURRENT-1]}"
  case "$prev" in
    ${paths.join("|")}) _files; return ;;
    ${values.join("|")}) return ;;
  esac
${wordLoop("2", "words", "CURRENT", values)}
  local -a subs commands
  local flags=""
  case "$cmd" in
${subLists}
  esac
  case "$cmd $sub" in
${flagArms(table, "    ")}
  esac
  if [[ $cur == -* ]]; then
    compadd -- \${=flags}
  elif [[ -z $cmd ]]; then
    commands=(${table.map(described).join(" ")})
    _describe 'command' commands
  elif [[ -z $sub && \${#subs} -gt 0 ]]; then
    _describe 'subcommand' subs
  else
    _files
  fi
}
if (( $+functions[compdef] )); then
  compdef _deploy_cli deploy-cli
fi
`;
}

function fishScript(table: TopWord[], commands: readonly Command[]): string {
  const lines = [
    "# deploy-cli completion for fish. Load it with:",
    "#   deploy-cli completion fish | source",
    "# or save it as ~/.config/fish/completions/deploy-cli.fish.",
    "complete -c deploy-cli -f",
    `complete -c deploy-cli -n __fish_use_subcommand -l version -d 'print the version'`,
    `complete -c deploy-cli -l json -d 'print the result (or the error) as JSON'`,
    `complete -c deploy-cli -s h -l help -d 'show help'`,
  ];
  for (const t of table) {
    lines.push(`complete -c deploy-cli -n __fish_use_subcommand -a ${t.word} -d ${quoted(t.summary)}`);
    const subs = t.subs.map((s) => s.word).join(" ");
    for (const s of t.subs) {
      lines.push(
        `complete -c deploy-cli -n ${quoted(`__fish_seen_subcommand_from ${t.word}; and not __fish_seen_subcommand_from ${subs}`)} -a ${s.word} -d ${quoted(s.summary)}`,
      );
    }
  }
  for (const command of commands) {
    const [first, second] = command.name.split(" ") as [string, string | undefined];
    const when = second
      ? `__fish_seen_subcommand_from ${first}; and __fish_seen_subcommand_from ${second}`
      : `__fish_seen_subcommand_from ${first}`;
    const options: ParseArgsOptionsConfig = { ...(command.remote ? REMOTE_OPTIONS : {}), ...command.options };
    for (const [name, option] of Object.entries(options)) {
      const takes = option.type === "string" ? (PATH_FLAGS.has(name) ? " -r -F" : " -r") : "";
      const short = option.short ? ` -s ${option.short}` : "";
      lines.push(`complete -c deploy-cli -n ${quoted(when)}${short} -l ${name}${takes}`);
    }
  }
  // An entry (push, dev) or a folder (init) is a path.
  lines.push(`complete -c deploy-cli -n '__fish_seen_subcommand_from push dev init' -F`);
  return `${lines.join("\n")}\n`;
}

/** `deploy-cli completion`, over the command table `commands()` gives (main.ts's list). */
export function createCompletionCommand(commands: () => readonly Command[]): Command {
  return {
    name: "completion",
    summary: "print a shell completion script (bash, zsh or fish)",
    usage: "completion bash|zsh|fish",
    details: `Prints a script that completes deploy-cli's commands, their subcommands and each command's
flags in your shell. Load it once per session, or save it where the shell looks:
  bash:  source <(deploy-cli completion bash)     (or save it as ~/.local/share/bash-completion/completions/deploy-cli)
  zsh:   source <(deploy-cli completion zsh)      (or save it as _deploy-cli in a folder of $fpath)
  fish:  deploy-cli completion fish | source      (or save it as ~/.config/fish/completions/deploy-cli.fish)`,
    examples: [
      "deploy-cli completion bash >> ~/.bashrc",
      "deploy-cli completion fish > ~/.config/fish/completions/deploy-cli.fish",
    ],
    subcommands: SHELLS,
    async run(ctx) {
      const [shell, ...extra] = ctx.args;
      const known = SHELLS.find((s) => s === shell);
      if (known === undefined || extra.length > 0) {
        throw new CliError(
          "ERR_USAGE",
          shell === undefined ? "completion needs a shell" : `no completion for "${ctx.args.join(" ")}"`,
          { hint: `deploy-cli completion ${SHELLS.join("|")}, e.g. source <(deploy-cli completion bash)` },
        );
      }
      const script = completionScript(known, commands());
      ctx.result({ shell: known, script }, script);
    },
  };
}
