// deploy-cli login / logout: keep a gateway URL and token under a profile name, so later commands
// need neither flag. The token is checked against the gateway before it is saved.

import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import type { AppView } from "../../gateway/schemas.ts";
import { createClient } from "../client.ts";
import type { Command } from "../command.ts";
import { CliError } from "../errors.ts";
import {
  checkProfileName,
  configFile,
  DEFAULT_GATEWAY,
  DEFAULT_PROFILE,
  readProfiles,
  writeProfiles,
} from "../profiles.ts";

/** Reads a line from the terminal without echoing it. */
function promptHidden(question: string): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    const output = rl as unknown as { _writeToOutput(text: string): void };
    process.stderr.write(question);
    output._writeToOutput = () => {};
    rl.question("", (answer) => {
      rl.close();
      process.stderr.write("\n");
      resolve(answer.trim());
    });
  });
}

async function readToken(flag: string | undefined): Promise<string> {
  const token = flag || process.env.WASMGATE_TOKEN;
  if (token) return token.trim();
  if (!process.stdin.isTTY) {
    const piped = readFileSync(0, "utf8").trim();
    if (piped !== "") return piped;
  } else {
    const typed = await promptHidden("Token (from the gateway's operator-token file or your operator): ");
    if (typed !== "") return typed;
  }
  throw new CliError("ERR_USAGE", "login needs a token", {
    hint: "pass --token <jwt>, set WASMGATE_TOKEN, or pipe it: deploy-cli login --gateway <url> < token-file",
  });
}

function profileFlag(values: Record<string, unknown>): string {
  return checkProfileName(
    (values.profile as string | undefined) || process.env.WASMGATE_PROFILE || DEFAULT_PROFILE,
  );
}

export const login: Command = {
  name: "login",
  summary: "save a gateway URL and token as a profile (default: default)",
  usage: "login [--gateway <url>] [--token <jwt>] [--profile <name>]",
  details: `Checks the token against the gateway, then saves both in
$XDG_CONFIG_HOME/wasmgate/config.json (default ~/.config/wasmgate/config.json, mode 0600). Later
commands use the profile unless --gateway/--token or WASMGATE_URL/WASMGATE_TOKEN say otherwise;
a profile's token is only ever sent to the profile's gateway. Without --token the token is read
from WASMGATE_TOKEN, from stdin when it is piped, or asked for on the terminal.`,
  examples: [
    "deploy-cli login --gateway https://admin.edge.example.com < operator-token",
    "deploy-cli login --profile staging --gateway https://admin.staging.example.com --token $TOKEN",
    "deploy-cli apps list --profile staging",
  ],
  options: { gateway: { type: "string" }, token: { type: "string" }, profile: { type: "string" } },
  async run(ctx) {
    const profile = profileFlag(ctx.values);
    const file = configFile();
    const profiles = readProfiles(file);
    const gateway = (
      (ctx.values.gateway as string | undefined) ||
      process.env.WASMGATE_URL ||
      profiles[profile]?.gateway ||
      DEFAULT_GATEWAY
    ).replace(/\/+$/, "");
    try {
      new URL(gateway);
    } catch {
      throw new CliError("ERR_USAGE", `"${gateway}" is not a URL`, {
        hint: "--gateway http://127.0.0.1:8788",
      });
    }
    const token = await readToken(ctx.values.token as string | undefined);
    const { apps } = await createClient({ gateway, token }).get<{ apps: AppView[] }>("/v1/apps");
    profiles[profile] = { gateway, token, savedAt: new Date().toISOString() };
    await writeProfiles(profiles, file);
    ctx.result(
      { profile, gateway, configFile: file, apps: apps.length },
      `Logged in to ${gateway} as profile ${profile} (${apps.length} app${apps.length === 1 ? "" : "s"} visible).\nSaved to ${file}.\n`,
    );
  },
};

export const logout: Command = {
  name: "logout",
  summary: "forget a saved profile",
  usage: "logout [--profile <name>]",
  examples: ["deploy-cli logout", "deploy-cli logout --profile staging"],
  options: { profile: { type: "string" } },
  async run(ctx) {
    const profile = profileFlag(ctx.values);
    const file = configFile();
    const profiles = readProfiles(file);
    const removed = profiles[profile] !== undefined;
    if (removed) {
      delete profiles[profile];
      await writeProfiles(profiles, file);
    }
    ctx.result(
      { profile, removed },
      removed ? `Removed profile ${profile} from ${file}.\n` : `There was no profile ${profile}.\n`,
    );
  },
};
