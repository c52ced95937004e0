// deploy-cli rollback, apps delete, and the operator's tenants and tokens commands.

import { createInterface } from "node:readline/promises";
import type {
  CreateTokenResponse,
  DeleteAppResponse,
  DeployResponse,
  TenantView,
  TokenView,
} from "../gateway/schemas.ts";
import { appOf } from "./build/manifest.ts";
import { createClient } from "./client.ts";
import { type Command, remoteCommon } from "./command.ts";
import { CliError, usage } from "./errors.ts";
import { table } from "./format.ts";

export interface Common {
  gateway: string;
  token: string | undefined;
  tenant?: string | undefined;
  json: boolean;
}

type Values = Record<string, unknown>;

const out = (text: string) => process.stdout.write(text);
const path = (...parts: string[]) => parts.map(encodeURIComponent).join("/");

/** `rollback [deployment] --app <name> [--message <text>]`: re-activates an earlier deployment. */
export async function rollbackCommand(args: string[], values: Values, common: Common): Promise<void> {
  const app = await appOf(values);
  if (!app) {
    throw usage(
      "rollback needs --app <name> or a wasmgate.json here or above (and optionally the deployment id to return to)",
    );
  }
  const body: { deployment?: string; message?: string } = {};
  if (args[0]) body.deployment = args[0];
  if (values.message) body.message = values.message as string;
  const result = await createClient(common).postJson<DeployResponse>(`/v1/apps/${path(app)}/rollback`, body);
  if (common.json) return void out(`${JSON.stringify(result)}\n`);
  const d = result.deployment;
  out(`Rolled back ${d.app} to ${d.rollbackOf} (sha256:${d.digest.slice(0, 12)}); now live as ${d.id}\n`);
}

/** Asks `question` on the terminal; true for y or yes. */
async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

/** `apps delete <name> [--purge] [--yes]`. */
export async function appsDeleteCommand(args: string[], values: Values, common: Common): Promise<void> {
  const app = args[0] ?? (values.app as string | undefined);
  if (!app) throw usage("apps delete needs the app's name");
  const purge = values.purge === true;
  // On a terminal, ask first (as wrangler and spin do); scripts and --yes go ahead.
  if (process.stdin.isTTY && process.stderr.isTTY && !common.json && values.yes !== true) {
    const what = purge ? " and remove its key-value data" : "";
    if (!(await confirm(`Delete the app ${app}, free its hostnames${what}? [y/N] `))) {
      throw new CliError("ERR_USAGE", `kept ${app}: nothing was deleted`, {
        hint: "answer y to delete it, or pass --yes",
      });
    }
  }
  const result = await createClient(common).delete<DeleteAppResponse>(
    `/v1/apps/${path(app)}${purge ? "?purge=true" : ""}`,
  );
  if (common.json) return void out(`${JSON.stringify(result)}\n`);
  out(`Deleted ${result.deleted}; its hostnames are free.\n`);
  if (purge) {
    out(
      result.purgedBuckets.length > 0
        ? `Purged ${result.purgedKeys} keys from ${result.purgedBuckets.join(", ")}.\n`
        : "No bucket purged: the app has none of its own, and its shared ones are named by other apps of its tenant.\n",
    );
  } else {
    out("Its key-value data is kept (--purge removes it).\n");
  }
}

export async function tenantsCommand(
  action: string | undefined,
  args: string[],
  values: Values,
  common: Common,
): Promise<void> {
  const client = createClient(common);
  switch (action) {
    case "list": {
      const { tenants } = await client.get<{ tenants: TenantView[] }>("/v1/tenants");
      if (common.json) return void out(`${JSON.stringify({ tenants })}\n`);
      if (tenants.length === 0) return void out("No tenants: create one with `deploy-cli tenants create`.\n");
      out(
        table(
          tenants.map((t) => [
            t.name,
            t.hostnames.join(", ") || "(no hostnames)",
            t.quotas.apps !== undefined ? `max ${t.quotas.apps} apps` : "",
            t.allowPrivateNetwork.length > 0 ? `private ${t.allowPrivateNetwork.join(", ")}` : "",
            t.jwks ? `jwks ${t.jwks.issuer}` : "",
          ]),
        ),
      );
      return;
    }
    case "create":
    case "update": {
      const name = args[0];
      if (!name) throw usage(`tenants ${action} needs the tenant's name`);
      const body: Record<string, unknown> = {};
      const hosts = values.host as string[] | undefined;
      if (hosts?.length) body.hostnames = hosts;
      const maxApps = values["max-apps"] as string | undefined;
      if (maxApps !== undefined) {
        if (!/^\d+$/.test(maxApps)) throw usage(`--max-apps takes a whole number, not "${maxApps}"`);
        body.quotas = { apps: Number(maxApps) };
      }
      const jwksUrl = values["jwks-url"] as string | undefined;
      if (jwksUrl !== undefined) {
        const issuer = values["jwks-issuer"] as string | undefined;
        const audience = values["jwks-audience"] as string | undefined;
        if (!issuer || !audience) throw usage("--jwks-url needs --jwks-issuer and --jwks-audience too");
        body.jwks = { url: jwksUrl, issuer, audience };
      }
      const ranges = values["allow-private-network"] as string[] | undefined;
      if (ranges?.length && values["no-allow-private-network"] === true) {
        throw usage("give either --allow-private-network <cidr> or --no-allow-private-network, not both");
      }
      if (ranges?.length) {
        // Repeatable and comma-separated; each one is validated by the gateway.
        body.allowPrivateNetwork = ranges
          .flatMap((r) => r.split(","))
          .map((r) => r.trim())
          .filter(Boolean);
      } else if (values["no-allow-private-network"] === true) {
        body.allowPrivateNetwork = [];
      }
      if (action === "create" && !hosts?.length) {
        throw usage("tenants create needs at least one --host <pattern>, e.g. --host '*.acme.example.com'");
      }
      const { tenant } = await client.putJson<{ tenant: TenantView }>(`/v1/tenants/${path(name)}`, body);
      if (common.json) return void out(`${JSON.stringify({ tenant })}\n`);
      out(`Tenant ${tenant.name}: ${tenant.hostnames.join(", ")}\n`);
      out(
        tenant.allowPrivateNetwork.length > 0
          ? `Its apps may call these private ranges: ${tenant.allowPrivateNetwork.join(", ")}\n`
          : "Its apps may call no private, loopback or link-local address.\n",
      );
      return;
    }
    case "delete": {
      const name = args[0];
      if (!name) throw usage("tenants delete needs the tenant's name");
      const result = await client.delete<{ deleted: string }>(`/v1/tenants/${path(name)}`);
      if (common.json) return void out(`${JSON.stringify(result)}\n`);
      out(`Deleted tenant ${name}; its tokens no longer work.\n`);
      return;
    }
    default:
      throw usage(`unknown tenants command "${action ?? ""}"; use list, create, update or delete`);
  }
}

/** Whether a token still works, in words: revoked, expired (in the past tense) or when it expires. */
export function tokenState(t: Pick<TokenView, "revokedAt" | "expiresAt">, now: number): string {
  if (t.revokedAt) return `revoked ${t.revokedAt}`;
  return Date.parse(t.expiresAt) <= now ? `expired ${t.expiresAt}` : `expires ${t.expiresAt}`;
}

/** `30d`, `12h`, `15m`, `90s` or plain seconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(text);
  if (!match) throw usage(`--expires-in takes a duration like 30d, 12h, 15m or seconds, not "${text}"`);
  const unit = { "": 1, s: 1, m: 60, h: 3600, d: 86400 }[match[2] as "" | "s" | "m" | "h" | "d"];
  return Number(match[1]) * unit;
}

export async function tokensCommand(
  action: string | undefined,
  args: string[],
  values: Values,
  common: Common,
): Promise<void> {
  const client = createClient(common);
  switch (action) {
    case "create": {
      const tenant = (values.tenant as string | undefined) ?? args[0];
      const scopes = (values.scope as string[] | undefined) ?? [];
      if (!tenant || scopes.length === 0) {
        throw usage("tokens create needs --tenant <name> and at least one --scope (e.g. --scope apps:write)");
      }
      const expires = values["expires-in"] as string | undefined;
      const result = await client.postJson<CreateTokenResponse>("/v1/tokens", {
        tenant,
        scopes,
        ...(expires !== undefined ? { expiresInSeconds: parseDuration(expires) } : {}),
        ...(values.description ? { description: values.description } : {}),
      });
      if (common.json) return void out(`${JSON.stringify(result)}\n`);
      process.stderr.write(
        `Token ${result.info.id} for ${tenant} (${result.info.scopes.join(" ")}), expires ${result.info.expiresAt}. It is shown only once:\n`,
      );
      out(`${result.token}\n`);
      return;
    }
    case "list": {
      const tenant = values.tenant as string | undefined;
      const { tokens } = await client.get<{ tokens: TokenView[] }>(
        `/v1/tokens${tenant ? `?tenant=${encodeURIComponent(tenant)}` : ""}`,
      );
      if (common.json) return void out(`${JSON.stringify({ tokens })}\n`);
      if (tokens.length === 0) return void out("No tokens: issue one with `deploy-cli tokens create`.\n");
      const now = Date.now();
      out(
        table(
          tokens.map((t) => [t.id, t.tenant, t.scopes.join(" "), tokenState(t, now), t.description ?? ""]),
        ),
      );
      return;
    }
    case "revoke": {
      const id = args[0];
      if (!id) throw usage("tokens revoke needs the token's id (see deploy-cli tokens list)");
      const result = await client.delete<{ revoked: string; revokedAt: string }>(`/v1/tokens/${path(id)}`);
      if (common.json) return void out(`${JSON.stringify(result)}\n`);
      out(`Revoked ${id}; every gateway refuses it within a second.\n`);
      return;
    }
    default:
      throw usage(`unknown tokens command "${action ?? ""}"; use create, list or revoke`);
  }
}

export const rollback: Command = {
  name: "rollback",
  summary: "make an earlier deployment live again, at once",
  usage: "rollback [<deployment>] --app <name> [--message <text>]",
  details:
    "Without a deployment id it returns to the one before the active one. The rollback is recorded as a\nnew deployment (its rollbackOf names the one it re-activated).",
  examples: [
    "deploy-cli rollback --app shop",
    "deploy-cli rollback dep_0mgx1k2a3b4c5d6e7f --app shop --message 'bad release'",
  ],
  remote: true,
  options: { app: { type: "string" }, message: { type: "string" } },
  run: (ctx) => rollbackCommand(ctx.args, ctx.values, remoteCommon(ctx)),
};

export const appsDelete: Command = {
  name: "apps delete",
  summary: "stop serving an app and free its hostnames (KV data kept unless --purge)",
  usage: "apps delete <name> [--purge] [--yes]",
  details:
    "--purge also removes the keys of the app's own buckets, and of the shared ones no other app of its\ntenant names. On a terminal it asks before deleting; --yes (or a script) does not.",
  examples: ["deploy-cli apps delete old-shop", "deploy-cli apps delete scratch --purge --yes --json"],
  remote: true,
  options: {
    purge: { type: "boolean", default: false },
    yes: { type: "boolean", short: "y", default: false },
  },
  run: (ctx) => appsDeleteCommand(ctx.args, ctx.values, remoteCommon(ctx)),
};

export const tenants: Command = {
  name: "tenants",
  summary: "(operator) tenants and the hostname patterns their apps may bind",
  usage:
    "tenants list | create <name> --host <pattern>... [--max-apps <n>] [--allow-private-network <cidr>...] | update <name> … | delete <name>",
  subcommands: ["list", "create", "update", "delete"],
  details:
    "--jwks-url <url> --jwks-issuer <iss> --jwks-audience <aud> trusts an identity provider's tokens for\nthe tenant (scopes from their `scope` claim). A tenant with apps cannot be deleted; deleting one\nrevokes its tokens.\n\n--allow-private-network <cidr> (repeatable or comma-separated) lets the tenant's apps call those\nloopback, private, link-local or other special addresses, which no tenant's allow-list opens by\nitself; it replaces the tenant's ranges, and --no-allow-private-network removes them. The\ngateway's admin port stays closed to every app.",
  examples: [
    'deploy-cli tenants create acme --host "*.acme.example.com" --host shop.example.com --max-apps 20',
    "deploy-cli tenants update acme --allow-private-network 10.0.0.0/8,192.168.10.0/24",
    "deploy-cli tenants update acme --no-allow-private-network",
    "deploy-cli tenants list --json",
  ],
  remote: true,
  options: {
    host: { type: "string", multiple: true },
    "max-apps": { type: "string" },
    "jwks-url": { type: "string" },
    "jwks-issuer": { type: "string" },
    "jwks-audience": { type: "string" },
    "allow-private-network": { type: "string", multiple: true },
    "no-allow-private-network": { type: "boolean" },
  },
  run: (ctx) => tenantsCommand(ctx.args[0], ctx.args.slice(1), ctx.values, remoteCommon(ctx)),
};

export const tokens: Command = {
  name: "tokens",
  summary: "(operator) issue, list and revoke tenants' tokens",
  usage:
    "tokens create --tenant <name> --scope <scope>... [--expires-in 30d] | list [--tenant <name>] | revoke <id>",
  subcommands: ["create", "list", "revoke"],
  details:
    "Scopes: apps:read apps:write kv:read kv:write config:read config:write logs:read (a write scope\nincludes its read). A token's value is printed once; a revoked token is refused by every gateway\nwithin a second.",
  examples: [
    "deploy-cli tokens create --tenant acme --scope apps:write --scope kv:write --expires-in 30d",
    "deploy-cli tokens revoke tok_3f2a…",
  ],
  remote: true,
  options: {
    tenant: { type: "string" },
    scope: { type: "string", multiple: true },
    "expires-in": { type: "string" },
    description: { type: "string" },
  },
  run: (ctx) => tokensCommand(ctx.args[0], ctx.args.slice(1), ctx.values, remoteCommon(ctx)),
};
