// Every route of the admin listener, with who may call it and what it does, in one line each.
// docs/reference/admin-api.md is made from this table (`npm run gen:docs`), and
// admin-routes-doc.test.ts checks it against the routes the Hono app registers and against the
// scope the access middleware asks for.

import { GRANTS } from "../../runtime/grants.ts";
import type { Scope } from "../auth/index.ts";

export interface AdminRouteDoc {
  readonly method: "GET" | "PUT" | "POST" | "DELETE";
  readonly path: string;
  /**
   * Who may call it: `none` (no token), `operator` (the operator's token only), or the scope a
   * tenant's token needs (the operator's token holds every scope).
   */
  readonly scope: Scope | "operator" | "none";
  readonly purpose: string;
}

export const ADMIN_ROUTES: readonly AdminRouteDoc[] = [
  {
    method: "GET",
    path: "/healthz",
    scope: "none",
    purpose: 'liveness: 200 `{"ok": true}` while the process serves',
  },
  {
    method: "GET",
    path: "/readyz",
    scope: "none",
    purpose:
      'readiness: 200 `{"ready": true, "checks": {…}}` once the state store and the key-value store answer and every guest worker has booted; otherwise 503 `ERR_NOT_READY` with the failed checks',
  },
  { method: "GET", path: "/metrics", scope: "none", purpose: "Prometheus text format (0.0.4)" },
  { method: "GET", path: "/v1/tenants", scope: "operator", purpose: "list the tenants" },
  { method: "GET", path: "/v1/tenants/:tenant", scope: "operator", purpose: "one tenant" },
  {
    method: "PUT",
    path: "/v1/tenants/:tenant",
    scope: "operator",
    purpose:
      'create or change a tenant: `{"hostnames", "quotas": {"apps"}, "jwks": {"url", "issuer", "audience"} | null, "allowPrivateNetwork": ["10.0.0.0/8"]}`; a field left out keeps its value',
  },
  {
    method: "DELETE",
    path: "/v1/tenants/:tenant",
    scope: "operator",
    purpose: "delete a tenant that has no apps, revoking its tokens",
  },
  {
    method: "POST",
    path: "/v1/tokens",
    scope: "operator",
    purpose:
      'issue a tenant token: `{"tenant", "scopes", "expiresInSeconds"?, "description"?}`; its value is shown once',
  },
  {
    method: "GET",
    path: "/v1/tokens",
    scope: "operator",
    purpose: "list tokens (`?tenant=` for one tenant's), never their values",
  },
  { method: "DELETE", path: "/v1/tokens/:id", scope: "operator", purpose: "revoke a token" },
  {
    method: "GET",
    path: "/v1/apps",
    scope: "apps:read",
    purpose: "list apps (a tenant's token sees its own; the operator's, `?tenant=` for one tenant's)",
  },
  { method: "GET", path: "/v1/apps/:app", scope: "apps:read", purpose: "one app" },
  {
    method: "PUT",
    path: "/v1/apps/:app",
    scope: "apps:write",
    purpose: `create the app or change it: \`{"tenant"?, "hostnames", "limits", ${GRANTS.map((g) => `"${g.field}"`).join(", ")}}\` (grants below); a field left out keeps its value (409: a hostname is taken)`,
  },
  {
    method: "DELETE",
    path: "/v1/apps/:app",
    scope: "apps:write",
    purpose:
      "delete the app and free its hostnames; `?purge=true` also removes the keys of its own buckets and of the shared ones no other app of its tenant names",
  },
  {
    method: "POST",
    path: "/v1/apps/:app/deployments",
    scope: "apps:write",
    purpose:
      'upload a component (`Content-Type: application/wasm`, `?message=`), or several on path routes (`multipart/form-data`: a `routes` part `[{"route", "component"}]` and a file part per component), and make it live; 201 with the deployment, digest, routes and URLs',
  },
  {
    method: "GET",
    path: "/v1/apps/:app/deployments",
    scope: "apps:read",
    purpose: "recent deployments, newest first, the active one marked (`?limit=`, default 20, at most 100)",
  },
  {
    method: "POST",
    path: "/v1/apps/:app/rollback",
    scope: "apps:write",
    purpose:
      'make an earlier deployment live again: `{"deployment"?, "message"?}` (default: the one before the active one); recorded as a new deployment',
  },
  {
    method: "GET",
    path: "/v1/apps/:app/kv/:bucket/keys",
    scope: "kv:read",
    purpose: 'list keys: `?prefix=`, `?cursor=`, `?limit=`; answers `{"keys", "cursor"}`',
  },
  {
    method: "GET",
    path: "/v1/apps/:app/kv/:bucket/value",
    scope: "kv:read",
    purpose: "read the value of `?key=`; its metadata comes in `x-wasmgate-metadata`",
  },
  {
    method: "PUT",
    path: "/v1/apps/:app/kv/:bucket/value",
    scope: "kv:write",
    purpose: "write the body as the value of `?key=` (`?ttl=` seconds, metadata in `x-wasmgate-metadata`)",
  },
  {
    method: "DELETE",
    path: "/v1/apps/:app/kv/:bucket/value",
    scope: "kv:write",
    purpose: "delete `?key=`",
  },
  { method: "GET", path: "/v1/apps/:app/vars", scope: "config:read", purpose: "the app's variables" },
  {
    method: "PUT",
    path: "/v1/apps/:app/vars/:name",
    scope: "config:write",
    purpose: 'set a variable: `{"value": "…"}`',
  },
  {
    method: "DELETE",
    path: "/v1/apps/:app/vars/:name",
    scope: "config:write",
    purpose: "unset a variable",
  },
  {
    method: "GET",
    path: "/v1/apps/:app/secrets",
    scope: "config:read",
    purpose: "the app's secrets: names and update times, never values",
  },
  {
    method: "PUT",
    path: "/v1/apps/:app/secrets/:name",
    scope: "config:write",
    purpose: 'store a secret, encrypted at rest: `{"value": "…"}`',
  },
  {
    method: "DELETE",
    path: "/v1/apps/:app/secrets/:name",
    scope: "config:write",
    purpose: "delete a secret",
  },
  {
    method: "GET",
    path: "/v1/apps/:app/logs",
    scope: "logs:read",
    purpose:
      "the app's recent log records; with `?follow` (or `Accept: text/event-stream`) its live log as Server-Sent Events",
  },
];
