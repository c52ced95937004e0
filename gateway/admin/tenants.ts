// Admin API routes for the operator: tenants (the hostnames they may bind, their quotas, an
// optional external identity provider, the private network ranges their apps may call) and the
// tokens issued to them.

import { randomUUID } from "node:crypto";
import { Hono } from "hono";
import { type Auth, SCOPES, type Scope, TOKEN_ISSUER } from "../auth/index.ts";
import { GatewayError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import {
  CreateTokenBody,
  type CreateTokenResponse,
  PutTenantBody,
  type TenantView,
  TOKEN_TTL_DEFAULT_SECONDS,
  type TokenView,
} from "../schemas.ts";
import { DEFAULT_TENANT, type StateStore, type TenantRecord, type TokenRecord } from "../state/store.ts";
import {
  type AdminEnv,
  hostnamePattern,
  jsonBody,
  mustGetTenant,
  tenantName,
  tenantNotFound,
  validation,
} from "./params.ts";

export interface TenantsApiDeps {
  state: StateStore;
  auth: Auth;
  logger: Logger;
  /** Drops cached routing and configuration after a change. */
  invalidate(): void;
  now?: () => Date;
}

export function tenantsRoutes(deps: TenantsApiDeps): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  const { state, auth, logger } = deps;
  const now = deps.now ?? (() => new Date());

  app.get("/v1/tenants", async (c) => c.json({ tenants: (await state.listTenants()).map(tenantView) }));

  app.get("/v1/tenants/:tenant", async (c) =>
    c.json({ tenant: tenantView(await mustGetTenant(state, c.req.param("tenant"))) }),
  );

  app.put("/v1/tenants/:tenant", async (c) => {
    const name = tenantName(c.req.param("tenant"));
    if (name === DEFAULT_TENANT) {
      throw new GatewayError(
        "ERR_VALIDATION",
        `"${DEFAULT_TENANT}" is the built-in tenant; choose another name`,
      );
    }
    const body = PutTenantBody.safeParse(await jsonBody(c.req.raw));
    if (!body.success) throw validation(body.error.issues);
    const hostnames = body.data.hostnames && [...new Set(body.data.hostnames.map(hostnamePattern))];
    const issuer = body.data.jwks?.issuer;
    if (issuer !== undefined) {
      // An issuer names exactly one tenant: its tokens carry no other way to tell tenants apart.
      const owner = (await state.listTenants()).find((t) => t.name !== name && t.jwks?.issuer === issuer);
      if (issuer === TOKEN_ISSUER || owner) {
        throw new GatewayError(
          "ERR_VALIDATION",
          `the issuer ${issuer} is already trusted for ${owner ? `tenant ${owner.name}` : "this gateway's own tokens"}`,
        );
      }
    }
    const allowPrivateNetwork = body.data.allowPrivateNetwork && [...new Set(body.data.allowPrivateNetwork)];
    const { tenant, created } = await state.putTenant(name, {
      hostnames,
      quotas: body.data.quotas,
      jwks: body.data.jwks,
      allowPrivateNetwork,
    });
    deps.invalidate();
    logger.info(
      {
        requestId: c.get("requestId"),
        tenant: name,
        hostnames: tenant.hostnames,
        allowPrivateNetwork: tenant.allowPrivateNetwork,
      },
      created ? "tenant created" : "tenant updated",
    );
    return c.json({ tenant: tenantView(tenant) }, created ? 201 : 200);
  });

  app.delete("/v1/tenants/:tenant", async (c) => {
    const name = tenantName(c.req.param("tenant"));
    if (!(await state.deleteTenant(name))) throw tenantNotFound(name);
    deps.invalidate();
    logger.info({ requestId: c.get("requestId"), tenant: name }, "tenant deleted");
    return c.json({ deleted: name });
  });

  app.post("/v1/tokens", async (c) => {
    const body = CreateTokenBody.safeParse(await jsonBody(c.req.raw));
    if (!body.success) throw validation(body.error.issues);
    const { tenant, scopes, expiresInSeconds, description } = body.data;
    const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
    if (unknown.length > 0) {
      throw new GatewayError(
        "ERR_VALIDATION",
        `unknown scope ${unknown.join(", ")}; the scopes are ${SCOPES.join(", ")}`,
      );
    }
    await mustGetTenant(state, tenant);
    const issued = now();
    const record: TokenRecord = {
      id: `tok_${randomUUID().replaceAll("-", "")}`,
      tenant,
      scopes: [...new Set(scopes)],
      description,
      createdAt: issued.toISOString(),
      expiresAt: new Date(
        issued.getTime() + (expiresInSeconds ?? TOKEN_TTL_DEFAULT_SECONDS) * 1000,
      ).toISOString(),
      revokedAt: undefined,
    };
    // Recorded before it is handed out: a token that is not on record never verifies.
    await state.addToken(record);
    const token = await auth.issueTenantToken({
      id: record.id,
      tenant,
      scopes: record.scopes as Scope[],
      expiresAt: new Date(record.expiresAt),
    });
    logger.info(
      { requestId: c.get("requestId"), tenant, token: record.id, scopes: record.scopes },
      "token issued",
    );
    const response: CreateTokenResponse = { token, info: tokenView(record) };
    return c.json(response, 201);
  });

  app.get("/v1/tokens", async (c) => {
    const tenant = c.req.query("tenant");
    return c.json({ tokens: (await state.listTokens(tenant && tenantName(tenant))).map(tokenView) });
  });

  app.delete("/v1/tokens/:id", async (c) => {
    const id = c.req.param("id");
    const at = now().toISOString();
    if (!(await state.revokeToken(id, at))) {
      throw new GatewayError(
        "ERR_TOKEN_NOT_FOUND",
        `there is no token with id ${id}; list them with deploy-cli tokens list`,
      );
    }
    logger.info({ requestId: c.get("requestId"), token: id }, "token revoked");
    const record = await state.getToken(id);
    return c.json({ revoked: id, revokedAt: record?.revokedAt ?? at });
  });
  return app;
}

function tenantView(t: TenantRecord): TenantView {
  return {
    name: t.name,
    hostnames: t.hostnames,
    quotas: t.quotas,
    jwks: t.jwks ?? null,
    allowPrivateNetwork: t.allowPrivateNetwork,
    createdAt: t.createdAt,
    updatedAt: t.updatedAt,
  };
}

function tokenView(t: TokenRecord): TokenView {
  return {
    id: t.id,
    tenant: t.tenant,
    scopes: t.scopes,
    description: t.description ?? null,
    createdAt: t.createdAt,
    expiresAt: t.expiresAt,
    revokedAt: t.revokedAt ?? null,
  };
}
