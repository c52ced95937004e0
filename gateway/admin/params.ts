// What the admin routes share: the context they run in, and the checks of names, bodies and
// records that several of them make.

import type { Principal } from "../auth/index.ts";
import { GatewayError } from "../errors.ts";
import { normalizePattern } from "../hostnames.ts";
import type { Env } from "../http.ts";
import { AppName, TenantName } from "../schemas.ts";
import type { AppRecord, StateStore, TenantRecord } from "../state/store.ts";

/**
 * The app a call under /v1/apps/:app means, as access control (auth/access.ts) resolved it from
 * the caller: a tenant's token means its own tenant's app; the operator names the tenant with
 * `?tenant=`, or leaves it out when one tenant at most has an app of that name. `tenant` is
 * undefined when the operator named none and no tenant has the app.
 */
export interface AppTarget {
  name: string;
  tenant: string | undefined;
}

/** Every admin route runs after authentication: the caller is in `principal`. */
export type AdminEnv = {
  Variables: Env["Variables"] & { principal: Principal; appTarget: AppTarget };
};

export async function mustGetTenant(
  state: Pick<StateStore, "getTenant">,
  raw: string,
): Promise<TenantRecord> {
  const name = tenantName(raw);
  const tenant = await state.getTenant(name);
  if (!tenant) throw tenantNotFound(name);
  return tenant;
}

export function tenantNotFound(name: string): GatewayError {
  return new GatewayError(
    "ERR_TENANT_NOT_FOUND",
    `there is no tenant named ${name}; create it with deploy-cli tenants create`,
  );
}

export function tenantName(raw: string): string {
  const parsed = TenantName.safeParse(raw);
  if (!parsed.success) throw new GatewayError("ERR_VALIDATION", parsed.error.issues[0]!.message);
  return parsed.data;
}

/** Normalizes a hostname or `*.` pattern, or refuses it with ERR_HOSTNAME_INVALID. */
export function hostnamePattern(raw: string): string {
  const pattern = normalizePattern(raw);
  if (!pattern) {
    throw new GatewayError(
      "ERR_HOSTNAME_INVALID",
      `"${raw}" is not a hostname; use a name like app.example.com or *.example.com, without scheme or port`,
    );
  }
  return pattern;
}

/** The request's JSON body; `options.empty` stands for a body that is absent or blank. */
export async function jsonBody(req: Request, options: { empty?: unknown } = {}): Promise<unknown> {
  const text = await req.text();
  if (options.empty !== undefined && text.trim() === "") return options.empty;
  try {
    return JSON.parse(text);
  } catch {
    throw new GatewayError("ERR_BAD_REQUEST", "the request body must be JSON");
  }
}

export function validation(issues: { message: string; path: PropertyKey[] }[]): GatewayError {
  return new GatewayError(
    "ERR_VALIDATION",
    issues.map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message)).join("; "),
  );
}

export function appName(raw: string): string {
  const parsed = AppName.safeParse(raw);
  if (!parsed.success) throw new GatewayError("ERR_VALIDATION", parsed.error.issues[0]!.message);
  return parsed.data;
}

/** The app the call means; ERR_APP_NOT_FOUND when there is none (whatever other tenants have). */
export async function mustGetApp(state: Pick<StateStore, "getApp">, target: AppTarget): Promise<AppRecord> {
  const app =
    target.tenant === undefined
      ? undefined
      : await state.getApp({ tenant: target.tenant, name: target.name });
  if (!app) throw appNotFound(target);
  return app;
}

export function appNotFound(target: AppTarget): GatewayError {
  return new GatewayError("ERR_APP_NOT_FOUND", `there is no app named ${target.name}`);
}

/**
 * Which tenant's app `name` a call means (see AppTarget). Refuses an operator's call naming an app
 * several tenants have without `?tenant=` (ERR_APP_AMBIGUOUS), and a tenant's token naming another
 * tenant (ERR_FORBIDDEN).
 */
export async function resolveAppTarget(
  state: Pick<StateStore, "tenantsWithApp">,
  principal: Principal,
  name: string,
  tenantQuery: string | undefined,
): Promise<AppTarget> {
  if (principal.role === "tenant") return { name, tenant: principal.tenant };
  if (tenantQuery !== undefined) return { name, tenant: tenantName(tenantQuery) };
  const tenants = await state.tenantsWithApp(name);
  if (tenants.length > 1) {
    throw new GatewayError(
      "ERR_APP_AMBIGUOUS",
      `tenants ${tenants.join(", ")} each have an app named ${name}; name one with ?tenant=<name> (deploy-cli --tenant <name>)`,
    );
  }
  return { name, tenant: tenants[0] };
}
