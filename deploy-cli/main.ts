// deploy-cli: push components to a wasmgate gateway and look at what is deployed.
// Results go to stdout (`--json` for machines), progress and errors to stderr.

import { existsSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { AppLimits, AppView, DeploymentView, DeployResponse } from "../gateway/schemas.ts";
import { createClient } from "./client.ts";
import { configCommand } from "./config.ts";
import { CliError } from "./errors.ts";
import { kvCommand } from "./kv.ts";
import { logsCommand } from "./logs.ts";
import { appsDeleteCommand, rollbackCommand, tenantsCommand, tokensCommand } from "./tenancy.ts";

const DEFAULT_GATEWAY = "http://127.0.0.1:8788";
const DEFAULT_STATE_DIR = ".wasmgate";

const HELP = `Usage: deploy-cli <command> [options]

Commands:
  push <file.wasm> --app <name> [--host <hostname>]... [--message <text>] [limits]
      Upload a component as a new deployment of <name> and make it live. --host sets the app's
      hostnames (repeat it for several); without it the app keeps the ones it has.
      Limits (kept for later pushes): --cpu-ms <n> (guest CPU per request, default 50),
      --deadline-ms <n> (default 30000), --memory-mb <n> (linear memory, default 128),
      --max-body-bytes <n> (request body), --max-response-bytes <n>, --kv-ops <n> (per request).
      --bucket <name> (repeatable) sets the key-value buckets the app may open (default: default).
      --allow-outbound <scheme://host[:port]> (repeatable) sets the hosts the app may call over
      HTTP (none by default; * for a subdomain level, any host or any port). Outbound limits:
      --outbound-requests <n> (per request, default 50), --outbound-connect-timeout-ms <n>
      (default 10000), --outbound-timeout-ms <n> (default 30000), --outbound-max-response-bytes <n>.
  deployments list --app <name>
      The app's most recent deployments, newest first.
  rollback [<deployment>] --app <name> [--message <text>]
      Make an earlier deployment live again (default: the one before the active one). Instant;
      recorded as a new deployment.
  apps delete <name> [--purge]
      Stop serving the app and free its hostnames. Its key-value data stays unless --purge (only
      buckets no other app of its tenant is granted are purged).
  tenants list | create <name> --host <pattern>... [--max-apps <n>] | update <name> ... | delete <name>
      (operator) Tenants and the hostname patterns their apps may bind (*.acme.example.com).
      --jwks-url <url> --jwks-issuer <iss> --jwks-audience <aud> trusts an identity provider's
      tokens for the tenant.
  tokens create --tenant <name> --scope <scope>... [--expires-in 30d] [--description <text>]
  tokens list [--tenant <name>] | revoke <id>
      (operator) Tokens for a tenant. Scopes: apps:read apps:write kv:read kv:write config:read
      config:write logs:read (write includes read). A revoked token is refused everywhere within 1 s.
  logs --app <name> [--follow]
      The app's recent requests, each with its guest's stdout/stderr under it; --follow keeps
      printing new ones as they happen (Ctrl-C to stop). --json: one JSON object per line.
  kv get <key> --app <name> [--bucket <b>]
  kv put <key> <value> | --file <path> --app <name> [--bucket <b>] [--ttl <s>] [--metadata <text>]
  kv delete <key> --app <name> [--bucket <b>]
  kv list --app <name> [--bucket <b>] [--prefix <p>]
      Read and write the app's key-value data, the same the app's guests see (bucket "default"
      unless --bucket names another the app is granted).
  vars set <name> <value> | --file <path> --app <name>
  vars unset <name> --app <name>
  vars list --app <name>
      The app's variables, read by its guests through wasi:config/store; a change applies to the
      next request.
  secrets put <name> [<value> | --file <path>] --app <name>    (no value: read from stdin)
  secrets delete <name> --app <name>
  secrets list --app <name>
      The app's secrets: stored encrypted, read by its guests like variables, never shown again
      (listings give names only).

Options for every command:
  --gateway <url>    admin API URL [WASMGATE_URL] (default ${DEFAULT_GATEWAY})
  --token <jwt>      bearer token [WASMGATE_TOKEN] (default: <state-dir>/operator-token)
  --state-dir <dir>  where a local gateway keeps its state [WASMGATE_STATE_DIR] (default ${DEFAULT_STATE_DIR})
  --json             print the result as JSON
  --help             show this help

Examples:
  deploy-cli push examples/hello/dist/hello.wasm --app hello --host hello.localhost
  deploy-cli push app.wasm --app shop --host shop.example.com --host www.shop.example.com --message "v2"
  deploy-cli deployments list --app hello --json
  deploy-cli push examples/counter/dist/counter.wasm --app counter --host counter.localhost
  deploy-cli kv put greeting "hello" --app counter --ttl 3600
  deploy-cli kv list --app counter --prefix visits:
  deploy-cli logs --app counter --follow
  deploy-cli push app.wasm --app api --allow-outbound https://api.example.com --allow-outbound "https://*.cdn.example.com"
  deploy-cli vars set region eu-west --app api
  printf %s "$API_TOKEN" | deploy-cli secrets put api_token --app api
  deploy-cli rollback --app hello
  deploy-cli tenants create acme --host "*.acme.localhost" --max-apps 10
  deploy-cli tokens create --tenant acme --scope apps:write --scope kv:write --expires-in 30d
`;

interface Common {
  gateway: string;
  token: string | undefined;
  json: boolean;
}

function resolveToken(flag: string | undefined, stateDirFlag: string | undefined): string | undefined {
  const fromEnv = process.env.WASMGATE_TOKEN;
  if (flag) return flag;
  if (fromEnv) return fromEnv;
  const file = join(
    resolve(stateDirFlag ?? process.env.WASMGATE_STATE_DIR ?? DEFAULT_STATE_DIR),
    "operator-token",
  );
  return existsSync(file) ? readFileSync(file, "utf8").trim() : undefined;
}

function progress(text: string): void {
  process.stderr.write(`${text}\n`);
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

async function push(positionals: string[], values: Record<string, unknown>, common: Common): Promise<void> {
  const file = positionals[0];
  const app = values.app as string | undefined;
  if (!file)
    throw new CliError("ERR_USAGE", "push needs the component file", {
      hint: "deploy-cli push app.wasm --app <name>",
    });
  if (!app)
    throw new CliError("ERR_USAGE", "push needs --app <name>", {
      hint: "deploy-cli push app.wasm --app <name>",
    });
  if (!existsSync(file)) {
    throw new CliError("ERR_FILE_NOT_FOUND", `no such file: ${file}`, {
      hint: "build the component first (npm run build:examples for the examples)",
    });
  }
  if (statSync(file).isDirectory()) {
    throw new CliError("ERR_NOT_A_FILE", `${file} is a directory, not a .wasm component`, {
      hint: "pass the path of the .wasm file",
    });
  }
  const bytes = new Uint8Array(readFileSync(file));
  const limits = limitFlags(values);
  const client = createClient(common);
  const hosts = (values.host as string[] | undefined) ?? [];
  let existing: AppView | undefined;
  try {
    existing = (await client.get<{ app: AppView }>(`/v1/apps/${encodeURIComponent(app)}`)).app;
  } catch (err) {
    if (!(err instanceof CliError && err.code === "ERR_APP_NOT_FOUND")) throw err;
  }
  if (!existing && hosts.length === 0) {
    throw new CliError("ERR_APP_NOT_FOUND", `there is no app named ${app}`, {
      hint: `create it by pushing with --host, e.g. --host ${app}.localhost`,
    });
  }
  const buckets = (values.bucket as string[] | undefined) ?? [];
  const outbound = (values["allow-outbound"] as string[] | undefined) ?? [];
  if (!existing || hosts.length > 0 || limits || buckets.length > 0 || outbound.length > 0) {
    await client.putJson(`/v1/apps/${encodeURIComponent(app)}`, {
      ...(hosts.length > 0 ? { hostnames: hosts } : {}),
      ...(buckets.length > 0 ? { buckets } : {}),
      ...(outbound.length > 0 ? { allowedOutboundHosts: outbound } : {}),
      ...(limits ? { limits: { ...existing?.limits, ...limits } } : {}),
    });
  }
  progress(`Uploading ${formatBytes(bytes.byteLength)} to ${common.gateway} for app ${app}...`);
  const message = values.message as string | undefined;
  const query = message ? `?message=${encodeURIComponent(message)}` : "";
  const started = performance.now();
  const result = await client.postBytes<DeployResponse>(
    `/v1/apps/${encodeURIComponent(app)}/deployments${query}`,
    bytes,
  );
  progress(`Live in ${Math.round(performance.now() - started)} ms.`);
  if (common.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const d = result.deployment;
  const lines = [
    `Deployed ${d.app}: ${d.id}`,
    `  digest  sha256:${d.digest}`,
    `  size    ${formatBytes(d.size)}`,
  ];
  for (const url of result.urls) lines.push(`  url     ${url}`);
  process.stdout.write(`${lines.join("\n")}\n`);
}

const LIMIT_FLAGS = {
  "cpu-ms": "cpuMs",
  "deadline-ms": "deadlineMs",
  "memory-mb": "memoryMb",
  "max-body-bytes": "maxBodyBytes",
  "max-response-bytes": "maxResponseBytes",
  "kv-ops": "kvOps",
  "outbound-requests": "outboundRequests",
  "outbound-connect-timeout-ms": "outboundConnectTimeoutMs",
  "outbound-timeout-ms": "outboundTimeoutMs",
  "outbound-max-response-bytes": "outboundMaxResponseBytes",
} as const satisfies Record<string, keyof AppLimits>;

function limitFlags(values: Record<string, unknown>): AppLimits | undefined {
  const out: AppLimits = {};
  for (const [flag, key] of Object.entries(LIMIT_FLAGS)) {
    const raw = values[flag] as string | undefined;
    if (raw === undefined) continue;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) {
      throw new CliError("ERR_USAGE", `--${flag} takes a whole number, not "${raw}"`);
    }
    out[key] = n;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

async function listDeployments(values: Record<string, unknown>, common: Common): Promise<void> {
  const app = values.app as string | undefined;
  if (!app) throw new CliError("ERR_USAGE", "deployments list needs --app <name>");
  const { deployments } = await createClient(common).get<{ deployments: DeploymentView[] }>(
    `/v1/apps/${encodeURIComponent(app)}/deployments`,
  );
  if (common.json) {
    process.stdout.write(`${JSON.stringify({ deployments })}\n`);
    return;
  }
  for (const d of deployments) {
    process.stdout.write(
      `${d.active ? "*" : " "} ${d.id}  ${d.createdAt}  sha256:${d.digest.slice(0, 12)}  ${d.message ?? ""}\n`,
    );
  }
}

export async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        app: { type: "string" },
        host: { type: "string", multiple: true },
        message: { type: "string" },
        gateway: { type: "string" },
        token: { type: "string" },
        "state-dir": { type: "string" },
        json: { type: "boolean", default: false },
        bucket: { type: "string", multiple: true },
        "allow-outbound": { type: "string", multiple: true },
        prefix: { type: "string" },
        ttl: { type: "string" },
        metadata: { type: "string" },
        file: { type: "string" },
        purge: { type: "boolean", default: false },
        tenant: { type: "string" },
        scope: { type: "string", multiple: true },
        "expires-in": { type: "string" },
        description: { type: "string" },
        "max-apps": { type: "string" },
        "jwks-url": { type: "string" },
        "jwks-issuer": { type: "string" },
        "jwks-audience": { type: "string" },
        follow: { type: "boolean", default: false },
        ...Object.fromEntries(Object.keys(LIMIT_FLAGS).map((f) => [f, { type: "string" as const }])),
        help: { type: "boolean", default: false },
      },
    });
  } catch (err) {
    process.stderr.write(`deploy-cli: ${(err as Error).message}\nRun \`deploy-cli --help\` for usage.\n`);
    return 1;
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    process.stdout.write(HELP);
    return values.help ? 0 : 1;
  }
  const common: Common = {
    gateway: (values.gateway as string | undefined) ?? process.env.WASMGATE_URL ?? DEFAULT_GATEWAY,
    token: resolveToken(values.token as string | undefined, values["state-dir"] as string | undefined),
    json: values.json === true,
  };
  try {
    if (command === "push") await push(rest, values, common);
    else if (command === "deployments" && rest[0] === "list") await listDeployments(values, common);
    else if (command === "kv") await kvCommand(rest[0], rest.slice(1), values, common);
    else if (command === "rollback") await rollbackCommand(rest, values, common);
    else if (command === "apps" && rest[0] === "delete")
      await appsDeleteCommand(rest.slice(1), values, common);
    else if (command === "tenants") await tenantsCommand(rest[0], rest.slice(1), values, common);
    else if (command === "tokens") await tokensCommand(rest[0], rest.slice(1), values, common);
    else if (command === "logs") await logsCommand(values, common);
    else if (command === "vars" || command === "secrets") {
      await configCommand(command, rest[0], rest.slice(1), values, common);
    } else
      throw new CliError("ERR_USAGE", `unknown command "${[command, ...rest].join(" ")}"`, {
        hint: "deploy-cli --help",
      });
    return 0;
  } catch (caught) {
    const err =
      caught instanceof CliError
        ? caught
        : new CliError(
            "ERR_INTERNAL",
            `deploy-cli failed unexpectedly: ${(caught as Error)?.message ?? caught}`,
            {
              exitCode: 2,
            },
          );
    if (common.json)
      process.stdout.write(`${JSON.stringify({ error: { code: err.code, message: err.message } })}\n`);
    process.stderr.write(`deploy-cli: ${err.message}\n${err.hint ? `hint: ${err.hint}\n` : ""}`);
    return err.exitCode;
  }
}
