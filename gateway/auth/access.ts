// Who may do what on the admin API. The operator may do anything; a tenant's token reaches only
// its tenant's apps, and only with the scope the route needs. One middleware decides for every
// /v1 route, so a new route under /v1/apps/:app is covered without remembering to check: it also
// resolves which tenant's app the path names (`appTarget`), so a tenant's token can only ever
// look up its own tenant's apps, and another tenant's app of the same name is simply not there.

import type { MiddlewareHandler } from "hono";
import { type AdminEnv, appName, resolveAppTarget } from "../admin/params.ts";
import { GatewayError } from "../errors.ts";
import type { StateStore } from "../state/store.ts";
import { hasScope, type Scope } from "./index.ts";

const APP_PATH = /^\/v1\/apps\/([^/]+)(?:\/([^/]*))?/;
const READS = new Set(["GET", "HEAD"]);

/** The scope a call needs, from its method and the part of the path after /v1/apps/:app/. */
export function scopeFor(method: string, section: string | undefined): Scope {
  const read = READS.has(method);
  if (section === "kv") return read ? "kv:read" : "kv:write";
  if (section === "vars" || section === "secrets") return read ? "config:read" : "config:write";
  if (section === "logs") return "logs:read";
  return read ? "apps:read" : "apps:write";
}

export function accessControl(state: Pick<StateStore, "tenantsWithApp">): MiddlewareHandler<AdminEnv> {
  return async (c, next) => {
    const principal = c.get("principal");
    const path = c.req.path;
    const match = APP_PATH.exec(path);
    const tenantQuery = c.req.query("tenant");
    if (principal.role !== "operator") {
      if (path.startsWith("/v1/tenants") || path.startsWith("/v1/tokens")) {
        throw new GatewayError("ERR_FORBIDDEN", "only the operator manages tenants and tokens");
      }
      const scope = match ? scopeFor(c.req.method, match[2]) : scopeFor(c.req.method, undefined);
      if (!hasScope(principal, scope)) {
        throw new GatewayError(
          "ERR_SCOPE_MISSING",
          `this token lacks the ${scope} scope; ask the operator for a token that has it`,
        );
      }
      if (tenantQuery !== undefined && tenantQuery !== principal.tenant) {
        throw new GatewayError(
          "ERR_FORBIDDEN",
          "a tenant's token reaches its own tenant's apps only; leave out ?tenant= (--tenant)",
        );
      }
    }
    if (match) {
      const name = appName(decodeURIComponent(match[1]!));
      c.set("appTarget", await resolveAppTarget(state, principal, name, tenantQuery));
    }
    return next();
  };
}
