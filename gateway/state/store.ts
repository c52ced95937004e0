// What the gateway keeps: apps with their hostnames, immutable deployments, and component
// artifacts addressed by SHA-256. The embedded backend is SQLite in the state directory.

import type { Grants } from "../../runtime/grants.ts";
import type { ComponentInfo } from "../../runtime/index.ts";
import { GatewayError } from "../errors.ts";
import type { AppLimits } from "../schemas.ts";

/**
 * Apps created by the operator without naming a tenant belong to this one. It exists implicitly,
 * may bind any hostname and has no quotas.
 */
export const DEFAULT_TENANT = "default";

/** How many deployments per app are kept (and can be rolled back to); older ones are dropped. */
export const DEPLOYMENTS_RETAINED = 50;

export interface TenantRecord {
  name: string;
  /** Hostname patterns its apps may bind: exact hosts or `*.` wildcards. */
  hostnames: string[];
  quotas: { apps?: number };
  /** Trust tokens from this identity provider too (verified against its JSON Web Key Set). */
  jwks: { url: string; issuer: string; audience: string } | undefined;
  /**
   * CIDRs of special addresses (loopback, private, link-local…) its apps may call out to; only
   * the operator sets them. Empty: none.
   */
  allowPrivateNetwork: string[];
  createdAt: string;
  updatedAt: string;
}

export interface TokenRecord {
  id: string;
  tenant: string;
  scopes: string[];
  description: string | undefined;
  createdAt: string;
  expiresAt: string;
  revokedAt: string | undefined;
}

/**
 * Which app: an app's name is unique within its tenant only, so two tenants may each have an app
 * `hello`. Everything kept per app (hostnames, deployments, variables, secrets, key-value buckets,
 * logs, metrics) is kept per tenant and name.
 */
export interface AppRef {
  tenant: string;
  name: string;
}

/**
 * One string for an app, `<tenant>/<name>`: the key of what is kept per app. Tenant and app names
 * never contain `/`, so no two apps share a key.
 */
export function appKey(app: AppRef): string {
  return `${app.tenant}/${app.name}`;
}

export interface AppRecord {
  name: string;
  tenant: string;
  hostnames: string[];
  /** What the app is granted, every field of the registry's grants present (gateway/grants.ts). */
  grants: Grants;
  limits: AppLimits;
  activeDeployment: string | undefined;
  createdAt: string;
  updatedAt: string;
}

export interface DeploymentRecord {
  id: string;
  /** The app's tenant and name. */
  tenant: string;
  app: string;
  digest: string;
  size: number;
  createdAt: string;
  createdBy: string;
  message: string | undefined;
  /** Set when this deployment re-activated an earlier one's component. */
  rollbackOf: string | undefined;
  /** The runtime's ComponentInfo, as prepared at deploy time. */
  info: ComponentInfo;
  /**
   * Path routes, each to one of the deployment's components (gateway/routes.ts); the first
   * route's component is the one `digest`, `size` and `info` describe. Without routes, that one
   * component answers every path.
   */
  routes?: DeploymentRoute[];
}

/** A route of a deployment and the component that answers it. */
export interface DeploymentRoute {
  route: string;
  /** The component's name in the app (a Spin component id). */
  component: string;
  digest: string;
  size: number;
  info: ComponentInfo;
}

export interface Route {
  app: string;
  tenant: string;
  grants: Grants;
  /** The tenant's `allowPrivateNetwork` (the default tenant's: none). */
  allowPrivateNetwork: string[];
  pattern: string;
  limits: AppLimits;
  deployment: DeploymentRecord | undefined;
}

export interface StateStore {
  getTenant(name: string): Promise<TenantRecord | undefined>;
  listTenants(): Promise<TenantRecord[]>;
  /** Creates the tenant or updates the fields given. */
  putTenant(
    name: string,
    changes: {
      hostnames?: string[];
      quotas?: TenantRecord["quotas"];
      jwks?: TenantRecord["jwks"] | null;
      allowPrivateNetwork?: string[];
    },
  ): Promise<{ tenant: TenantRecord; created: boolean }>;
  /** Removes the tenant and revokes its tokens; ERR_TENANT_HAS_APPS while it still has apps. */
  deleteTenant(name: string): Promise<boolean>;
  addToken(record: TokenRecord): Promise<void>;
  getToken(id: string): Promise<TokenRecord | undefined>;
  /** Tokens, newest first, optionally of one tenant. */
  listTokens(tenant?: string): Promise<TokenRecord[]>;
  /** Marks the token revoked; false when there is no such token. */
  revokeToken(id: string, at: string): Promise<boolean>;

  getApp(app: AppRef): Promise<AppRecord | undefined>;
  /** The tenants that have an app of this name, sorted. */
  tenantsWithApp(name: string): Promise<string[]>;
  /** Apps sorted by name (then tenant), optionally of one tenant. */
  listApps(tenant?: string): Promise<AppRecord[]>;
  /**
   * Creates the app or updates the fields given (hostnames are replaced as a whole). Throws
   * ERR_HOSTNAME_TAKEN when a hostname belongs to another app and ERR_QUOTA_EXCEEDED when creating
   * it would take its tenant past `maxApps`; then nothing changes.
   */
  putApp(
    app: AppRef,
    changes: {
      maxApps?: number;
      hostnames?: string[];
      limits?: AppLimits;
      /** The grant fields to change; the others keep their values. */
      grants?: Readonly<Record<string, unknown>>;
    },
  ): Promise<{ app: AppRecord; created: boolean }>;
  /**
   * Removes the app with its hostnames, deployments, variables and secrets (artifacts and
   * key-value data stay). Returns the removed record.
   */
  deleteApp(app: AppRef): Promise<AppRecord | undefined>;
  /** The app's variables, sorted by name. */
  listVars(app: AppRef): Promise<[string, string][]>;
  /** Sets a variable; ERR_CONFIG_NAME_TAKEN when a secret has the name. */
  setVar(app: AppRef, name: string, value: string, maxCount: number): Promise<void>;
  deleteVar(app: AppRef, name: string): Promise<boolean>;
  /** The app's secrets, sealed (see ../auth/secrets.ts), sorted by name. */
  listSecrets(app: AppRef): Promise<{ name: string; sealed: string; updatedAt: string }[]>;
  /** Stores a sealed secret; ERR_CONFIG_NAME_TAKEN when a variable has the name. */
  putSecret(
    app: AppRef,
    name: string,
    sealed: string,
    maxCount: number,
  ): Promise<{ name: string; updatedAt: string }>;
  deleteSecret(app: AppRef, name: string): Promise<boolean>;
  /** The app serving exactly this hostname pattern, with its active deployment. */
  routeFor(pattern: string): Promise<Route | undefined>;
  hasArtifact(digest: string): Promise<boolean>;
  putArtifact(digest: string, bytes: Uint8Array): Promise<void>;
  getArtifact(digest: string): Promise<Uint8Array | undefined>;
  /**
   * Records a deployment and makes it the app's active one, atomically, dropping the app's
   * deployments beyond the newest DEPLOYMENTS_RETAINED.
   */
  addDeployment(record: DeploymentRecord): Promise<void>;
  getDeployment(app: AppRef, id: string): Promise<DeploymentRecord | undefined>;
  listDeployments(app: AppRef, limit: number): Promise<DeploymentRecord[]>;
  /** Increases whenever anything routing depends on changes. */
  version(): Promise<number>;
  /**
   * Calls `listener` after another process changed the state (this process's own changes are
   * invalidated where they are made). Returns the unsubscribe function.
   */
  onExternalChange(listener: () => void): () => void;
  /**
   * Resolves when the store can serve, with what it found for readiness (`{ backend: "sqlite" }`;
   * for Redis its topology, a cluster's state, the master Sentinel named); throws when it cannot.
   */
  ping(): Promise<Readonly<Record<string, string | number>>>;
  /**
   * Prepared (transpiled) components shared between gateways, so a deploy compiles once for the
   * fleet. Only stores that several gateways share have it.
   */
  readonly sharedPrepared?: {
    get(digest: string, format: string): Promise<Record<string, Uint8Array> | undefined>;
    has(digest: string, format: string): Promise<boolean>;
    put(digest: string, format: string, files: Record<string, Uint8Array>): Promise<void>;
  };
  close(): Promise<void>;
}

export function tenantHasApps(tenant: string): GatewayError {
  return new GatewayError(
    "ERR_TENANT_HAS_APPS",
    `tenant ${tenant} still has apps; delete them first (deploy-cli apps delete <app>)`,
  );
}

export function quotaExceeded(tenant: string, maxApps: number): GatewayError {
  return new GatewayError(
    "ERR_QUOTA_EXCEEDED",
    `tenant ${tenant} may have at most ${maxApps} apps; delete one or ask the operator to raise the quota`,
  );
}

/**
 * A hostname bound to another app. The app is named only when it is `by`'s tenant's: of another
 * tenant's apps nothing is told, not even that one exists by that name.
 */
export function hostnameTaken(pattern: string, holder: AppRef | undefined, by: AppRef): GatewayError {
  return new GatewayError(
    "ERR_HOSTNAME_TAKEN",
    holder && holder.tenant === by.tenant
      ? `hostname ${pattern} is already bound to app ${holder.name}; remove it from that app first`
      : `hostname ${pattern} is taken; choose another`,
  );
}

export function configNameTaken(app: string, name: string, other: string): GatewayError {
  return new GatewayError(
    "ERR_CONFIG_NAME_TAKEN",
    `app ${app} already has ${other} named ${name}; a name is either a variable or a secret (unset the other first)`,
  );
}

/** The distinct components of a deployment (one, without routes), each once. */
export function componentsOf(d: DeploymentRecord): { digest: string; info: ComponentInfo }[] {
  if (!d.routes) return [{ digest: d.digest, info: d.info }];
  const seen = new Map<string, ComponentInfo>();
  for (const r of d.routes) if (!seen.has(r.digest)) seen.set(r.digest, r.info);
  return [...seen].map(([digest, info]) => ({ digest, info }));
}

/**
 * Every route the store holds, one per hostname pattern: what the data plane keeps in memory.
 * Made from the store's listings, so both backends give the same table.
 */
export async function routeTable(state: StateStore): Promise<Route[]> {
  const [apps, tenants] = await Promise.all([state.listApps(), state.listTenants()]);
  const privateRanges = new Map(tenants.map((t) => [t.name, t.allowPrivateNetwork]));
  const deployments = await Promise.all(
    apps.map((app) => (app.activeDeployment ? state.getDeployment(app, app.activeDeployment) : undefined)),
  );
  const routes: Route[] = [];
  apps.forEach((app, i) => {
    const allowPrivateNetwork = app.tenant === DEFAULT_TENANT ? [] : (privateRanges.get(app.tenant) ?? []);
    for (const pattern of app.hostnames) {
      routes.push({
        app: app.name,
        tenant: app.tenant,
        grants: app.grants,
        allowPrivateNetwork,
        pattern,
        limits: app.limits,
        deployment: deployments[i],
      });
    }
  });
  return routes;
}
