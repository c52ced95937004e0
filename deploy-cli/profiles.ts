// Where deploy-cli sends a command, and with which token.
//
// Gateway: --gateway, then WASMGATE_URL, then the profile's, then the admin URL a local
// `deploy-cli dev` wrote to the state directory, then http://127.0.0.1:8788.
// Token: --token, then WASMGATE_TOKEN, then the profile's (only when talking to the profile's
// gateway, so a saved token never goes anywhere else), then <state-dir>/operator-token.
// Profiles live in $XDG_CONFIG_HOME/wasmgate/config.json (default ~/.config), mode 0600.

import { existsSync, readFileSync } from "node:fs";
import { chmod, mkdir, rename, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { CliError } from "./errors.ts";

export const DEFAULT_GATEWAY = "http://127.0.0.1:8788";
export const DEFAULT_STATE_DIR = ".wasmgate";
export const DEFAULT_PROFILE = "default";
/** Written by `deploy-cli dev` next to its operator token while it runs. */
export const ADMIN_URL_FILE = "admin-url";

export interface Profile {
  gateway: string;
  token: string;
  savedAt?: string;
}

interface ConfigFile {
  profiles: Record<string, Profile>;
}

export interface Target {
  gateway: string;
  token: string | undefined;
  /** The tenant whose apps an operator's commands mean (`?tenant=` on app calls). */
  tenant: string | undefined;
  /** Where the gateway URL came from, for messages. */
  gatewayFrom: "flag" | "env" | "profile" | "state-dir" | "default";
  profile: string;
}

export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || join(homedir(), ".config");
  return join(base, "wasmgate");
}

export function configFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(configDir(env), "config.json");
}

export function readProfiles(file = configFile()): Record<string, Profile> {
  if (!existsSync(file)) return {};
  let parsed: Partial<ConfigFile>;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new CliError("ERR_CONFIG_INVALID", `${file} is not valid JSON: ${(err as Error).message}`, {
      hint: "fix or delete the file, then run `deploy-cli login` again",
    });
  }
  return parsed.profiles && typeof parsed.profiles === "object" ? parsed.profiles : {};
}

export async function writeProfiles(profiles: Record<string, Profile>, file = configFile()): Promise<void> {
  const dir = join(file, "..");
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify({ profiles } satisfies ConfigFile, null, 2)}\n`, { mode: 0o600 });
  // The mode given to writeFile is masked by umask and ignored for an existing file: set it.
  await chmod(tmp, 0o600);
  await rename(tmp, file);
}

export function checkProfileName(name: string): string {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
    throw new CliError("ERR_USAGE", `"${name}" is not a profile name: use letters, digits, '.', '_' or '-'`, {
      hint: "deploy-cli login --profile staging",
    });
  }
  return name;
}

function sameGateway(a: string, b: string): boolean {
  return a.replace(/\/+$/, "") === b.replace(/\/+$/, "");
}

function readIfExists(file: string): string | undefined {
  try {
    const text = readFileSync(file, "utf8").trim();
    return text === "" ? undefined : text;
  } catch {
    return undefined;
  }
}

export function resolveTarget(
  flags: {
    gateway?: string | undefined;
    token?: string | undefined;
    profile?: string | undefined;
    stateDir?: string | undefined;
    tenant?: string | undefined;
  },
  env: NodeJS.ProcessEnv = process.env,
): Target {
  const profileName = checkProfileName(flags.profile || env.WASMGATE_PROFILE || DEFAULT_PROFILE);
  const profiles = readProfiles(configFile(env));
  const profile = profiles[profileName];
  if ((flags.profile || env.WASMGATE_PROFILE) && !profile) {
    throw new CliError("ERR_PROFILE_NOT_FOUND", `there is no profile named ${profileName}`, {
      hint: `save one with \`deploy-cli login --profile ${profileName} --gateway <url>\``,
    });
  }
  const stateDir = resolve(flags.stateDir || env.WASMGATE_STATE_DIR || DEFAULT_STATE_DIR);

  let gateway: string;
  let gatewayFrom: Target["gatewayFrom"];
  const local = readIfExists(join(stateDir, ADMIN_URL_FILE));
  if (flags.gateway) [gateway, gatewayFrom] = [flags.gateway, "flag"];
  else if (env.WASMGATE_URL) [gateway, gatewayFrom] = [env.WASMGATE_URL, "env"];
  else if (profile) [gateway, gatewayFrom] = [profile.gateway, "profile"];
  else if (local) [gateway, gatewayFrom] = [local, "state-dir"];
  else [gateway, gatewayFrom] = [DEFAULT_GATEWAY, "default"];

  let token = flags.token || env.WASMGATE_TOKEN || undefined;
  if (!token && profile && sameGateway(profile.gateway, gateway)) token = profile.token;
  token ??= readIfExists(join(stateDir, "operator-token"));
  const tenant = flags.tenant || env.WASMGATE_TENANT || undefined;
  return { gateway, token, tenant, gatewayFrom, profile: profileName };
}
