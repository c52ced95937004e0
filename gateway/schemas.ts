// Admin API request and response shapes. deploy-cli imports the types from here, never server code.

import { isIP } from "node:net";
import { z } from "zod";
import { BUCKET_NAME, BUCKET_NAME_RULE, GRANTS } from "../runtime/grants.ts";
import { compileRoutes } from "./routes.ts";

/** Every error answer, from both listeners. */
export interface ErrorBody {
  error: { code: string; message: string; requestId: string };
}

export const APP_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export const AppName = z
  .string()
  .regex(
    APP_NAME,
    "an app name is 1-63 lower-case letters, digits or dashes, not starting or ending with a dash",
  );

/** Overrides of the gateway's default guest limits, per app. */
export const AppLimits = z
  .object({
    cpuMs: z.number().int().min(1).max(60_000),
    deadlineMs: z.number().int().min(1).max(3_600_000),
    memoryMb: z.number().int().min(1).max(4096),
    maxBodyBytes: z
      .number()
      .int()
      .min(0)
      .max(2 ** 40),
    maxResponseBytes: z
      .number()
      .int()
      .min(0)
      .max(2 ** 40),
    kvOps: z.number().int().min(0).max(1_000_000),
    /** Outgoing HTTP requests per request (redirect hops count), and their timeouts and size. */
    outboundRequests: z.number().int().min(0).max(10_000),
    outboundConnectTimeoutMs: z.number().int().min(1).max(600_000),
    outboundTimeoutMs: z.number().int().min(1).max(3_600_000),
    outboundMaxResponseBytes: z
      .number()
      .int()
      .min(0)
      .max(2 ** 40),
    /**
     * `reuse` (the default): an instance serves request after request, so module state survives
     * between them; `per-request`: every request gets an instance in the state it started in, so
     * nothing survives a request (Spin's semantics). Fetch-event guests always get the latter.
     */
    instances: z.enum(["reuse", "per-request"]),
  })
  .partial()
  .strict();
export type AppLimits = z.infer<typeof AppLimits>;

export { BUCKET_NAME, DEFAULT_BUCKETS, GRANTS, SQLITE_LABEL } from "../runtime/grants.ts";
export const BucketName = z.string().regex(BUCKET_NAME, BUCKET_NAME_RULE);

export const TenantName = z
  .string()
  .regex(
    APP_NAME,
    "a tenant name is 1-63 lower-case letters, digits or dashes, not starting or ending with a dash",
  );

/**
 * Creates the app or updates it; a field left out keeps its current value. Besides its tenant,
 * hostnames and limits, an app has one field per capability grant (runtime/grants.ts: `buckets`,
 * `allowedOutboundHosts`), each validated by its capability's schema.
 */
export const PutAppBody = z
  .object({
    /** The tenant owning a new app (operator only; a tenant's token creates apps in its tenant). */
    tenant: TenantName,
    hostnames: z.array(z.string()).max(100, "at most 100 hostnames per app"),
    limits: AppLimits,
    ...Object.fromEntries(GRANTS.map((g) => [g.field, g.schema(z)])),
  })
  .partial()
  .strict();
export type PutAppBody = {
  tenant?: string;
  hostnames?: string[];
  limits?: AppLimits;
  /** Grant fields, by name. */
  [grant: string]: unknown;
};

export const DEPLOY_MESSAGE_MAX = 500;

export interface AppView {
  name: string;
  tenant: string;
  hostnames: string[];
  limits: AppLimits;
  activeDeployment: string | null;
  createdAt: string;
  updatedAt: string;
  /** Grant fields (runtime/grants.ts), each with its value. */
  [grant: string]: unknown;
}

export interface DeploymentView {
  id: string;
  app: string;
  digest: string;
  size: number;
  createdAt: string;
  createdBy: string;
  message: string | null;
  /** The deployment whose component this one re-activated, for rollbacks. */
  rollbackOf: string | null;
  active: boolean;
  /** Its path routes and the component answering each, when it has them. */
  routes?: { route: string; component: string; digest: string; size: number }[];
}

/** A component's name in an app of several (a Spin component id). */
export const COMPONENT_NAME = /^[a-z0-9](?:[a-z0-9_-]{0,62})$/;
/** At most this many components in one deployment. */
export const MAX_COMPONENTS = 16;

/** The `routes` part of a deployment upload of several components (multipart/form-data). */
export const DeployRoutes = z
  .array(
    z
      .object({
        route: z.string().min(1).max(512),
        component: z
          .string()
          .regex(COMPONENT_NAME, "a component name is 1-63 lower-case letters, digits, '-' or '_'"),
      })
      .strict(),
  )
  .min(1, "a deployment has at least one route")
  .max(100, "at most 100 routes per deployment");

/**
 * What is wrong with a deployment's routes, in the words the admin API refuses them with
 * (ERR_VALIDATION), or undefined when they are fine. deploy-cli asks it before it builds.
 *
 * @example
 *   routesProblem([{ route: "/api/...", component: "api" }, { route: "api/...", component: "web" }]);
 *   // 'the routes "/api/..." and "api/..." match the same paths'
 */
export function routesProblem(routes: unknown): string | undefined {
  const parsed = DeployRoutes.safeParse(routes);
  if (!parsed.success) {
    return parsed.error.issues
      .map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message))
      .join("; ");
  }
  const compiled = compileRoutes(parsed.data.map((r) => ({ route: r.route, target: r.component })));
  return typeof compiled === "string" ? compiled : undefined;
}

export const RollbackBody = z
  .object({
    /** The deployment to return to; by default the one before the active one. */
    deployment: z.string().max(100),
    message: z.string().max(500),
  })
  .partial()
  .strict();

export interface DeleteAppResponse {
  deleted: string;
  /** Buckets whose keys were removed (with ?purge=true; buckets shared with another app stay). */
  purgedBuckets: string[];
  purgedKeys: number;
}

/** The 128-bit value of a valid IPv6 address (read through the URL parser, which also takes IPv4 tails). */
function ipv6Value(address: string): bigint {
  const [left = "", right] = canonicalIPv6(address).split("::");
  const l = left === "" ? [] : left.split(":");
  const r = right === undefined || right === "" ? [] : right.split(":");
  const groups =
    right === undefined ? l : [...l, ...new Array<string>(8 - l.length - r.length).fill("0"), ...r];
  return groups.reduce((value, g) => (value << 16n) | BigInt(Number.parseInt(g, 16)), 0n);
}

/** RFC 5952 text: lower case, the longest run of zero groups as `::`. */
function canonicalIPv6(address: string): string {
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

function formatIP(value: bigint, family: 4 | 6): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 255n)).join(".");
  const groups = Array.from({ length: 8 }, (_, i) =>
    ((value >> BigInt(112 - 16 * i)) & 0xffffn).toString(16),
  );
  return canonicalIPv6(groups.join(":"));
}

/**
 * An IP network as `address/prefix`, written with its first address (`10.0.0.0/8`, `fd00::/8`);
 * a bare address is a network of one. Answers the network in canonical form, or why it is not one.
 */
export function normalizeCidr(raw: string): { cidr: string } | { error: string } {
  const text = raw.trim().toLowerCase();
  const slash = text.indexOf("/");
  const address = slash === -1 ? text : text.slice(0, slash);
  const family = address.includes("%") ? 0 : isIP(address);
  const width = family === 4 ? 32 : 128;
  const prefixText = slash === -1 ? String(width) : text.slice(slash + 1);
  if (family === 0 || !/^\d{1,3}$/.test(prefixText) || Number(prefixText) > width) {
    return {
      error: `"${raw}" is not a network; write an address and a prefix length, e.g. 10.0.0.0/8, 127.0.0.1/32 or fd00::/8`,
    };
  }
  const prefix = Number(prefixText);
  const value =
    family === 4
      ? address.split(".").reduce((v, octet) => (v << 8n) | BigInt(Number(octet)), 0n)
      : ipv6Value(address);
  const hostBits = (1n << BigInt(width - prefix)) - 1n;
  if ((value & hostBits) !== 0n) {
    const network = formatIP(value & ~hostBits, family === 4 ? 4 : 6);
    return {
      error: `"${raw}" has bits set past its /${prefix} prefix; the network is ${network}/${prefix} (or use /${width} for one address)`,
    };
  }
  return { cidr: `${family === 4 ? address : canonicalIPv6(address)}/${prefix}` };
}

/** A CIDR as the admin API takes it, normalized (see normalizeCidr). */
export const Cidr = z
  .string()
  .max(100)
  .transform((raw, ctx) => {
    const result = normalizeCidr(raw);
    if ("error" in result) {
      ctx.addIssue({ code: "custom", message: result.error });
      return z.NEVER;
    }
    return result.cidr;
  });

export const PutTenantBody = z
  .object({
    /** Hostname patterns the tenant's apps may bind (`shop.example.com`, `*.acme.example.com`). */
    hostnames: z.array(z.string()).max(1000, "at most 1000 hostname patterns per tenant"),
    quotas: z
      .object({ apps: z.number().int().min(0).max(1_000_000) })
      .partial()
      .strict(),
    /** Trust tokens of an external identity provider for this tenant (null removes it). */
    jwks: z
      .object({
        url: z.url({ protocol: /^https?$/ }),
        issuer: z.string().min(1).max(500),
        audience: z.string().min(1).max(500),
      })
      .strict()
      .nullable(),
    /**
     * Special address ranges (loopback, private, link-local…) the tenant's apps may call out to,
     * which no tenant's allow-list opens by itself (`[]` closes them again).
     */
    allowPrivateNetwork: z.array(Cidr).max(100, "at most 100 private network ranges per tenant"),
  })
  .partial()
  .strict();

export interface TenantView {
  name: string;
  hostnames: string[];
  quotas: { apps?: number };
  jwks: { url: string; issuer: string; audience: string } | null;
  allowPrivateNetwork: string[];
  createdAt: string;
  updatedAt: string;
}

export const TOKEN_TTL_DEFAULT_SECONDS = 90 * 24 * 3600;
export const TOKEN_TTL_MAX_SECONDS = 5 * 365 * 24 * 3600;

export const CreateTokenBody = z
  .object({
    tenant: TenantName,
    scopes: z.array(z.string()).min(1, "name at least one scope"),
    expiresInSeconds: z.number().int().min(1).max(TOKEN_TTL_MAX_SECONDS).optional(),
    description: z.string().max(200).optional(),
  })
  .strict();

export interface TokenView {
  id: string;
  tenant: string;
  scopes: string[];
  description: string | null;
  createdAt: string;
  expiresAt: string;
  revokedAt: string | null;
}

/** A new token: the only time its value is shown. */
export interface CreateTokenResponse {
  token: string;
  info: TokenView;
}

export interface DeployResponse {
  deployment: DeploymentView;
  urls: string[];
  /** True when these exact bytes were already stored and compiled. */
  reused: boolean;
}

/** Names of variables and secrets, as guests pass them to wasi:config/store `get`. */
export const CONFIG_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/;
export const ConfigName = z
  .string()
  .regex(
    CONFIG_NAME,
    "a variable or secret name is 1-128 letters, digits, '_', '.' or '-', starting with a letter or '_'",
  );
export const CONFIG_VALUE_MAX = 64 * 1024;
export const MAX_VARS = 100;
export const MAX_SECRETS = 100;
export const ConfigValueBody = z
  .object({ value: z.string().max(CONFIG_VALUE_MAX, `a value is at most ${CONFIG_VALUE_MAX} characters`) })
  .strict();

/** A secret as the API shows it: never its value. */
export interface SecretView {
  name: string;
  updatedAt: string;
}
