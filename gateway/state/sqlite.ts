// The embedded state store: SQLite (node:sqlite) for records, files for artifacts, both in the
// state directory. Survives restarts; one process at a time.
// Over 400 lines on purpose: one StateStore implementation, its schema and migrations, each method
// a transaction over the same prepared statements; gateway/state/redis.ts is its twin.

import { existsSync, mkdirSync } from "node:fs";
import { readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { GatewayError } from "../errors.ts";
import { completeGrants, upgradeGrants } from "../grants.ts";
import {
  type AppRecord,
  configNameTaken,
  DEPLOYMENTS_RETAINED,
  type DeploymentRecord,
  hostnameTaken,
  quotaExceeded,
  type Route,
  type StateStore,
  type TenantRecord,
  type TokenRecord,
  tenantHasApps,
} from "./store.ts";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS tenants (
  name TEXT PRIMARY KEY,
  hostnames TEXT NOT NULL,
  quotas TEXT NOT NULL,
  jwks TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
  id TEXT PRIMARY KEY,
  tenant TEXT NOT NULL,
  scopes TEXT NOT NULL,
  description TEXT,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  revoked_at TEXT
);
CREATE INDEX IF NOT EXISTS tokens_tenant ON tokens(tenant, created_at);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('version', '0');
`;

/** The tables of apps and what is kept per app, each keyed by the app's tenant and name. */
const APP_TABLES = `
CREATE TABLE apps (
  tenant TEXT NOT NULL,
  name TEXT NOT NULL,
  active_deployment TEXT,
  limits TEXT NOT NULL DEFAULT '{}',
  grants TEXT NOT NULL DEFAULT '{}',
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (tenant, name)
);
CREATE TABLE hostnames (
  pattern TEXT PRIMARY KEY,
  tenant TEXT NOT NULL,
  app TEXT NOT NULL,
  FOREIGN KEY (tenant, app) REFERENCES apps(tenant, name) ON DELETE CASCADE
);
CREATE INDEX hostnames_app ON hostnames(tenant, app);
CREATE TABLE deployments (
  id TEXT PRIMARY KEY,
  tenant TEXT NOT NULL,
  app TEXT NOT NULL,
  digest TEXT NOT NULL,
  size INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  created_by TEXT NOT NULL,
  message TEXT,
  rollback_of TEXT,
  info TEXT NOT NULL,
  routes TEXT
);
CREATE INDEX deployments_app ON deployments(tenant, app, created_at);
CREATE TABLE app_vars (
  tenant TEXT NOT NULL,
  app TEXT NOT NULL,
  name TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (tenant, app, name),
  FOREIGN KEY (tenant, app) REFERENCES apps(tenant, name) ON DELETE CASCADE
);
CREATE TABLE app_secrets (
  tenant TEXT NOT NULL,
  app TEXT NOT NULL,
  name TEXT NOT NULL,
  sealed TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (tenant, app, name),
  FOREIGN KEY (tenant, app) REFERENCES apps(tenant, name) ON DELETE CASCADE
);
`;

/**
 * Copies the app tables of a state directory from before app names were per tenant (keyed by the
 * name alone, renamed \`legacy_*\` first) into APP_TABLES: each app keeps its tenant, and what
 * hangs off it gets the tenant too.
 */
const COPY_LEGACY_APP_TABLES = `
INSERT INTO apps (tenant, name, active_deployment, limits, grants, created_at, updated_at)
  SELECT tenant, name, active_deployment, limits, grants, created_at, updated_at FROM legacy_apps;
INSERT INTO hostnames (pattern, tenant, app)
  SELECT h.pattern, a.tenant, h.app FROM legacy_hostnames h JOIN legacy_apps a ON a.name = h.app;
INSERT INTO deployments (id, tenant, app, digest, size, created_at, created_by, message, rollback_of, info, routes)
  SELECT d.id, a.tenant, d.app, d.digest, d.size, d.created_at, d.created_by, d.message, d.rollback_of, d.info, d.routes
  FROM legacy_deployments d JOIN legacy_apps a ON a.name = d.app;
INSERT INTO app_vars (tenant, app, name, value)
  SELECT a.tenant, v.app, v.name, v.value FROM legacy_app_vars v JOIN legacy_apps a ON a.name = v.app;
INSERT INTO app_secrets (tenant, app, name, sealed, updated_at)
  SELECT a.tenant, s.app, s.name, s.sealed, s.updated_at FROM legacy_app_secrets s JOIN legacy_apps a ON a.name = s.app;
`;
const LEGACY_TABLES = ["apps", "hostnames", "deployments", "app_vars", "app_secrets"];

interface AppRow {
  tenant: string;
  name: string;
  active_deployment: string | null;
  limits: string;
  grants: string;
  created_at: string;
  updated_at: string;
}
interface DeploymentRow {
  id: string;
  tenant: string;
  app: string;
  digest: string;
  size: number;
  created_at: string;
  created_by: string;
  message: string | null;
  rollback_of: string | null;
  info: string;
  routes: string | null;
}
interface TenantRow {
  name: string;
  hostnames: string;
  quotas: string;
  jwks: string | null;
  allow_private_network: string;
  created_at: string;
  updated_at: string;
}
interface TokenRow {
  id: string;
  tenant: string;
  scopes: string;
  description: string | null;
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
}

export function createSqliteStateStore(stateDir: string): StateStore {
  const artifactsDir = join(stateDir, "artifacts");
  mkdirSync(artifactsDir, { recursive: true });
  const db = new DatabaseSync(join(stateDir, "state.db"));
  db.exec("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;");
  db.exec(SCHEMA);
  const appColumns = db.prepare("PRAGMA table_info(apps)").all() as { name: string; pk: number }[];
  if (appColumns.length === 0) db.exec(APP_TABLES);
  // A state directory from before app names were per tenant: its apps are keyed by name alone.
  // Its tables are brought to that time's last shape, then copied into today's, once.
  else if (!appColumns.some((c) => c.name === "tenant" && c.pk > 0)) {
    upgradeLegacyColumns(db, appColumns);
    keyAppsByTenant(db);
  }
  // Records from before a grant existed are rewritten as the grant reads them (Grant.upgrade):
  // apps from before buckets were an app's own keep theirs as tenant-level shares.
  upgradeStoredGrants(db);
  // ... and before the operator could open private ranges to a tenant, this one (none opened).
  const tenantColumns = db.prepare("PRAGMA table_info(tenants)").all() as { name: string }[];
  if (!tenantColumns.some((c) => c.name === "allow_private_network")) {
    db.exec("ALTER TABLE tenants ADD COLUMN allow_private_network TEXT NOT NULL DEFAULT '[]'");
  }

  const q = {
    app: db.prepare("SELECT * FROM apps WHERE tenant = ? AND name = ?"),
    apps: db.prepare("SELECT * FROM apps ORDER BY name, tenant"),
    tenantsWithApp: db.prepare("SELECT tenant FROM apps WHERE name = ? ORDER BY tenant"),
    appsOf: db.prepare("SELECT * FROM apps WHERE tenant = ? ORDER BY name"),
    countApps: db.prepare("SELECT COUNT(*) AS n FROM apps WHERE tenant = ?"),
    insertApp: db.prepare("INSERT INTO apps (tenant, name, created_at, updated_at) VALUES (?, ?, ?, ?)"),
    deleteApp: db.prepare("DELETE FROM apps WHERE tenant = ? AND name = ?"),
    deleteDeployments: db.prepare("DELETE FROM deployments WHERE tenant = ? AND app = ?"),
    tenant: db.prepare("SELECT * FROM tenants WHERE name = ?"),
    tenants: db.prepare("SELECT * FROM tenants ORDER BY name"),
    insertTenant: db.prepare(
      "INSERT INTO tenants (name, hostnames, quotas, jwks, created_at, updated_at) VALUES (?, '[]', '{}', NULL, ?, ?)",
    ),
    updateTenant: db.prepare(
      "UPDATE tenants SET hostnames = ?, quotas = ?, jwks = ?, allow_private_network = ?, updated_at = ? WHERE name = ?",
    ),
    deleteTenant: db.prepare("DELETE FROM tenants WHERE name = ?"),
    revokeTenantTokens: db.prepare(
      "UPDATE tokens SET revoked_at = ? WHERE tenant = ? AND revoked_at IS NULL",
    ),
    insertToken: db.prepare(
      "INSERT INTO tokens (id, tenant, scopes, description, created_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    ),
    token: db.prepare("SELECT * FROM tokens WHERE id = ?"),
    tokens: db.prepare("SELECT * FROM tokens ORDER BY created_at DESC, id DESC"),
    tokensOf: db.prepare("SELECT * FROM tokens WHERE tenant = ? ORDER BY created_at DESC, id DESC"),
    revokeToken: db.prepare("UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"),
    deployment: db.prepare("SELECT * FROM deployments WHERE tenant = ? AND app = ? AND id = ?"),
    pruneDeployments: db.prepare(
      "DELETE FROM deployments WHERE tenant = ?1 AND app = ?2 AND id NOT IN (SELECT id FROM deployments WHERE tenant = ?1 AND app = ?2 ORDER BY created_at DESC, id DESC LIMIT ?3)",
    ),
    hostsOf: db.prepare("SELECT pattern FROM hostnames WHERE tenant = ? AND app = ? ORDER BY pattern"),
    ownerOf: db.prepare("SELECT tenant, app FROM hostnames WHERE pattern = ?"),
    touchApp: db.prepare("UPDATE apps SET updated_at = ? WHERE tenant = ? AND name = ?"),
    setLimits: db.prepare("UPDATE apps SET limits = ? WHERE tenant = ? AND name = ?"),
    setGrants: db.prepare("UPDATE apps SET grants = json_patch(grants, ?) WHERE tenant = ? AND name = ?"),
    vars: db.prepare("SELECT name, value FROM app_vars WHERE tenant = ? AND app = ? ORDER BY name"),
    hasVar: db.prepare("SELECT 1 AS x FROM app_vars WHERE tenant = ? AND app = ? AND name = ?"),
    countVars: db.prepare("SELECT COUNT(*) AS n FROM app_vars WHERE tenant = ? AND app = ?"),
    setVar: db.prepare(
      "INSERT INTO app_vars (tenant, app, name, value) VALUES (?, ?, ?, ?) ON CONFLICT (tenant, app, name) DO UPDATE SET value = excluded.value",
    ),
    deleteVar: db.prepare("DELETE FROM app_vars WHERE tenant = ? AND app = ? AND name = ?"),
    secrets: db.prepare(
      "SELECT name, sealed, updated_at FROM app_secrets WHERE tenant = ? AND app = ? ORDER BY name",
    ),
    hasSecret: db.prepare("SELECT 1 AS x FROM app_secrets WHERE tenant = ? AND app = ? AND name = ?"),
    countSecrets: db.prepare("SELECT COUNT(*) AS n FROM app_secrets WHERE tenant = ? AND app = ?"),
    putSecret: db.prepare(
      "INSERT INTO app_secrets (tenant, app, name, sealed, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant, app, name) DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at",
    ),
    deleteSecret: db.prepare("DELETE FROM app_secrets WHERE tenant = ? AND app = ? AND name = ?"),
    clearHosts: db.prepare("DELETE FROM hostnames WHERE tenant = ? AND app = ?"),
    insertHost: db.prepare("INSERT INTO hostnames (pattern, tenant, app) VALUES (?, ?, ?)"),
    route: db.prepare(
      "SELECT h.tenant AS tenant, h.app AS app, a.limits AS app_limits, a.tenant AS app_tenant, a.grants AS app_grants, t.allow_private_network AS tenant_private, d.id, d.digest, d.size, d.created_at, d.created_by, d.message, d.rollback_of, d.info, d.routes FROM hostnames h JOIN apps a ON a.tenant = h.tenant AND a.name = h.app LEFT JOIN tenants t ON t.name = a.tenant LEFT JOIN deployments d ON d.id = a.active_deployment WHERE h.pattern = ?",
    ),
    insertDeployment: db.prepare(
      "INSERT INTO deployments (id, tenant, app, digest, size, created_at, created_by, message, rollback_of, info, routes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    ),
    activate: db.prepare(
      "UPDATE apps SET active_deployment = ?, updated_at = ? WHERE tenant = ? AND name = ?",
    ),
    deployments: db.prepare(
      "SELECT * FROM deployments WHERE tenant = ? AND app = ? ORDER BY created_at DESC, id DESC LIMIT ?",
    ),
    bump: db.prepare("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'version'"),
    version: db.prepare("SELECT value FROM meta WHERE key = 'version'"),
  };

  function transaction<T>(fn: () => T): T {
    db.exec("BEGIN IMMEDIATE");
    try {
      const out = fn();
      q.bump.run();
      db.exec("COMMIT");
      return out;
    } catch (err) {
      db.exec("ROLLBACK");
      throw err;
    }
  }

  function toApp(row: AppRow): AppRecord {
    return {
      name: row.name,
      hostnames: (q.hostsOf.all(row.tenant, row.name) as { pattern: string }[]).map((r) => r.pattern),
      limits: JSON.parse(row.limits),
      tenant: row.tenant,
      grants: completeGrants(JSON.parse(row.grants)),
      activeDeployment: row.active_deployment ?? undefined,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

  function toDeployment(row: DeploymentRow): DeploymentRecord {
    return {
      id: row.id,
      tenant: row.tenant,
      app: row.app,
      digest: row.digest,
      size: row.size,
      createdAt: row.created_at,
      createdBy: row.created_by,
      message: row.message ?? undefined,
      rollbackOf: row.rollback_of ?? undefined,
      info: JSON.parse(row.info),
      ...(row.routes ? { routes: JSON.parse(row.routes) } : {}),
    };
  }

  function toTenant(row: TenantRow): TenantRecord {
    return {
      name: row.name,
      hostnames: JSON.parse(row.hostnames),
      quotas: JSON.parse(row.quotas),
      jwks: row.jwks ? JSON.parse(row.jwks) : undefined,
      allowPrivateNetwork: JSON.parse(row.allow_private_network ?? "[]"),
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

  function toToken(row: TokenRow): TokenRecord {
    return {
      id: row.id,
      tenant: row.tenant,
      scopes: JSON.parse(row.scopes),
      description: row.description ?? undefined,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
      revokedAt: row.revoked_at ?? undefined,
    };
  }

  const artifactPath = (digest: string) => join(artifactsDir, `${digest}.wasm`);

  return {
    async getTenant(name) {
      const row = q.tenant.get(name) as TenantRow | undefined;
      return row && toTenant(row);
    },
    async listTenants() {
      return (q.tenants.all() as unknown as TenantRow[]).map(toTenant);
    },
    async putTenant(name, { hostnames, quotas, jwks, allowPrivateNetwork }) {
      const now = new Date().toISOString();
      return transaction(() => {
        const existing = q.tenant.get(name) as TenantRow | undefined;
        if (!existing) q.insertTenant.run(name, now, now);
        const current = toTenant(q.tenant.get(name) as unknown as TenantRow);
        const nextJwks = jwks === null ? undefined : (jwks ?? current.jwks);
        q.updateTenant.run(
          JSON.stringify(hostnames ?? current.hostnames),
          JSON.stringify(quotas ?? current.quotas),
          nextJwks ? JSON.stringify(nextJwks) : null,
          JSON.stringify(allowPrivateNetwork ?? current.allowPrivateNetwork),
          now,
          name,
        );
        return { tenant: toTenant(q.tenant.get(name) as unknown as TenantRow), created: !existing };
      });
    },
    async deleteTenant(name) {
      return transaction(() => {
        if ((q.countApps.get(name) as { n: number }).n > 0) throw tenantHasApps(name);
        q.revokeTenantTokens.run(new Date().toISOString(), name);
        return Number(q.deleteTenant.run(name).changes) > 0;
      });
    },
    async addToken(t) {
      transaction(() => {
        q.insertToken.run(
          t.id,
          t.tenant,
          JSON.stringify(t.scopes),
          t.description ?? null,
          t.createdAt,
          t.expiresAt,
          t.revokedAt ?? null,
        );
      });
    },
    async getToken(id) {
      const row = q.token.get(id) as TokenRow | undefined;
      return row && toToken(row);
    },
    async listTokens(tenant) {
      const rows = (tenant === undefined ? q.tokens.all() : q.tokensOf.all(tenant)) as unknown as TokenRow[];
      return rows.map(toToken);
    },
    async revokeToken(id, at) {
      return transaction(() => {
        if (!q.token.get(id)) return false;
        q.revokeToken.run(at, id);
        return true;
      });
    },
    async getApp({ tenant, name }) {
      const row = q.app.get(tenant, name) as AppRow | undefined;
      return row && toApp(row);
    },
    async tenantsWithApp(name) {
      return (q.tenantsWithApp.all(name) as { tenant: string }[]).map((r) => r.tenant);
    },
    async listApps(tenant) {
      const rows = (tenant === undefined ? q.apps.all() : q.appsOf.all(tenant)) as unknown as AppRow[];
      return rows.map(toApp);
    },
    async putApp(ref, { maxApps, hostnames, limits, grants }) {
      const { tenant, name } = ref;
      const now = new Date().toISOString();
      return transaction(() => {
        for (const pattern of hostnames ?? []) {
          const holder = q.ownerOf.get(pattern) as { tenant: string; app: string } | undefined;
          if (holder && (holder.tenant !== tenant || holder.app !== name)) {
            throw hostnameTaken(pattern, { tenant: holder.tenant, name: holder.app }, ref);
          }
        }
        const existing = q.app.get(tenant, name) as AppRow | undefined;
        if (!existing && maxApps !== undefined && (q.countApps.get(tenant) as { n: number }).n >= maxApps) {
          throw quotaExceeded(tenant, maxApps);
        }
        if (existing) q.touchApp.run(now, tenant, name);
        else q.insertApp.run(tenant, name, now, now);
        if (hostnames) {
          q.clearHosts.run(tenant, name);
          for (const pattern of hostnames) q.insertHost.run(pattern, tenant, name);
        }
        if (limits) q.setLimits.run(JSON.stringify(limits), tenant, name);
        // A new app's record holds every grant field, so a field it lacks marks a record as older.
        if (!existing) q.setGrants.run(JSON.stringify(completeGrants(grants)), tenant, name);
        else if (grants && Object.keys(grants).length > 0)
          q.setGrants.run(JSON.stringify(grants), tenant, name);
        return { app: toApp(q.app.get(tenant, name) as unknown as AppRow), created: !existing };
      });
    },
    async routeFor(pattern) {
      const row = q.route.get(pattern) as
        | (DeploymentRow & {
            app: string;
            app_limits: string;
            app_tenant: string;
            app_grants: string;
            tenant_private: string | null;
            id: string | null;
          })
        | undefined;
      if (!row) return undefined;
      const route: Route = {
        app: row.app,
        pattern,
        limits: JSON.parse(row.app_limits),
        tenant: row.app_tenant,
        grants: completeGrants(JSON.parse(row.app_grants)),
        allowPrivateNetwork: row.tenant_private ? JSON.parse(row.tenant_private) : [],
        deployment: row.id ? toDeployment(row) : undefined,
      };
      return route;
    },
    async deleteApp({ tenant, name }) {
      return transaction(() => {
        const row = q.app.get(tenant, name) as AppRow | undefined;
        if (!row) return undefined;
        const record = toApp(row);
        // Hostnames, variables and secrets go with the app (ON DELETE CASCADE).
        q.deleteDeployments.run(tenant, name);
        q.deleteApp.run(tenant, name);
        return record;
      });
    },
    async listVars({ tenant, name }) {
      return (q.vars.all(tenant, name) as { name: string; value: string }[]).map((r) => [r.name, r.value]);
    },
    async setVar({ tenant, name: app }, name, value, maxCount) {
      transaction(() => {
        if (q.hasSecret.get(tenant, app, name)) throw configNameTaken(app, name, "a secret");
        if (
          !q.hasVar.get(tenant, app, name) &&
          (q.countVars.get(tenant, app) as { n: number }).n >= maxCount
        ) {
          throw new GatewayError("ERR_VALIDATION", `an app has at most ${maxCount} variables`);
        }
        q.setVar.run(tenant, app, name, value);
        q.touchApp.run(new Date().toISOString(), tenant, app);
      });
    },
    async deleteVar({ tenant, name: app }, name) {
      return transaction(() => Number(q.deleteVar.run(tenant, app, name).changes) > 0);
    },
    async listSecrets({ tenant, name }) {
      return (q.secrets.all(tenant, name) as { name: string; sealed: string; updated_at: string }[]).map(
        (r) => ({
          name: r.name,
          sealed: r.sealed,
          updatedAt: r.updated_at,
        }),
      );
    },
    async putSecret({ tenant, name: app }, name, sealed, maxCount) {
      const now = new Date().toISOString();
      transaction(() => {
        if (q.hasVar.get(tenant, app, name)) throw configNameTaken(app, name, "a variable");
        if (
          !q.hasSecret.get(tenant, app, name) &&
          (q.countSecrets.get(tenant, app) as { n: number }).n >= maxCount
        ) {
          throw new GatewayError("ERR_VALIDATION", `an app has at most ${maxCount} secrets`);
        }
        q.putSecret.run(tenant, app, name, sealed, now);
        q.touchApp.run(now, tenant, app);
      });
      return { name, updatedAt: now };
    },
    async deleteSecret({ tenant, name: app }, name) {
      return transaction(() => Number(q.deleteSecret.run(tenant, app, name).changes) > 0);
    },
    async hasArtifact(digest) {
      return existsSync(artifactPath(digest));
    },
    async putArtifact(digest, bytes) {
      const path = artifactPath(digest);
      if (existsSync(path)) return;
      const tmp = `${path}.${process.pid}.tmp`;
      await writeFile(tmp, bytes);
      await rename(tmp, path);
    },
    async getArtifact(digest) {
      const path = artifactPath(digest);
      return existsSync(path) ? new Uint8Array(await readFile(path)) : undefined;
    },
    async addDeployment(d) {
      transaction(() => {
        if (!q.app.get(d.tenant, d.app)) {
          throw new GatewayError("ERR_APP_NOT_FOUND", `there is no app named ${d.app}`);
        }
        q.insertDeployment.run(
          d.id,
          d.tenant,
          d.app,
          d.digest,
          d.size,
          d.createdAt,
          d.createdBy,
          d.message ?? null,
          d.rollbackOf ?? null,
          JSON.stringify(d.info),
          d.routes ? JSON.stringify(d.routes) : null,
        );
        q.activate.run(d.id, d.createdAt, d.tenant, d.app);
        q.pruneDeployments.run(d.tenant, d.app, DEPLOYMENTS_RETAINED);
      });
    },
    async getDeployment({ tenant, name }, id) {
      const row = q.deployment.get(tenant, name, id) as DeploymentRow | undefined;
      return row && toDeployment(row);
    },
    async listDeployments({ tenant, name }, limit) {
      return (q.deployments.all(tenant, name, limit) as unknown as DeploymentRow[]).map(toDeployment);
    },
    async version() {
      return Number((q.version.get() as { value: string }).value);
    },
    onExternalChange() {
      // One process owns the state directory: every change is made, and invalidated, here.
      return () => {};
    },
    async ping() {
      q.version.get();
      return { backend: "sqlite" };
    },
    async close() {
      db.close();
    },
  };
}

/** Adds the columns a legacy (name-keyed) state directory may lack, as their migrations did. */
function upgradeLegacyColumns(db: DatabaseSync, columns: { name: string }[]): void {
  // State directories from before outbound HTTP lack the column ...
  if (!columns.some((c) => c.name === "allowed_outbound_hosts")) {
    db.exec("ALTER TABLE apps ADD COLUMN allowed_outbound_hosts TEXT NOT NULL DEFAULT '[]'");
  }
  // ... and before grants were listed by capability, this one: an object of grant fields, made
  // from the two columns it replaces.
  if (!columns.some((c) => c.name === "grants")) {
    db.exec(`ALTER TABLE apps ADD COLUMN grants TEXT NOT NULL DEFAULT '{}';
      UPDATE apps SET grants = json_object('buckets', json(buckets), 'allowedOutboundHosts', json(allowed_outbound_hosts));`);
  }
  // ... and tables they may not have had yet.
  db.exec(`CREATE TABLE IF NOT EXISTS hostnames (pattern TEXT PRIMARY KEY, app TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS deployments (id TEXT PRIMARY KEY, app TEXT NOT NULL, digest TEXT NOT NULL,
      size INTEGER NOT NULL, created_at TEXT NOT NULL, created_by TEXT NOT NULL, message TEXT, info TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS app_vars (app TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS app_secrets (app TEXT NOT NULL, name TEXT NOT NULL, sealed TEXT NOT NULL,
      updated_at TEXT NOT NULL);`);
  // ... and before rollbacks, this one; before path routes, this one.
  const depColumns = db.prepare("PRAGMA table_info(deployments)").all() as { name: string }[];
  if (!depColumns.some((c) => c.name === "rollback_of")) {
    db.exec("ALTER TABLE deployments ADD COLUMN rollback_of TEXT");
  }
  if (!depColumns.some((c) => c.name === "routes")) db.exec("ALTER TABLE deployments ADD COLUMN routes TEXT");
}

/**
 * Rebuilds the app tables keyed by tenant and name (SQLite cannot change a primary key in place),
 * in one transaction: a failure leaves the state directory as it was.
 */
function keyAppsByTenant(db: DatabaseSync): void {
  // Off while tables are renamed and dropped (it can only change outside a transaction).
  db.exec("PRAGMA foreign_keys = OFF");
  db.exec("BEGIN IMMEDIATE");
  try {
    db.exec("DROP INDEX IF EXISTS hostnames_app; DROP INDEX IF EXISTS deployments_app;");
    for (const table of LEGACY_TABLES) db.exec(`ALTER TABLE ${table} RENAME TO legacy_${table}`);
    db.exec(APP_TABLES);
    db.exec(COPY_LEGACY_APP_TABLES);
    for (const table of LEGACY_TABLES) db.exec(`DROP TABLE legacy_${table}`);
    if (db.prepare("PRAGMA foreign_key_check").all().length > 0) {
      throw new Error("the app tables, keyed by tenant, fail their foreign key check");
    }
    db.exec("COMMIT");
  } catch (err) {
    db.exec("ROLLBACK");
    throw err;
  } finally {
    db.exec("PRAGMA foreign_keys = ON");
  }
}

/** Rewrites each app whose grants a grant's upgrade reads otherwise. */
function upgradeStoredGrants(db: DatabaseSync): void {
  const rows = db.prepare("SELECT tenant, name, grants FROM apps").all() as {
    tenant: string;
    name: string;
    grants: string;
  }[];
  const update = db.prepare("UPDATE apps SET grants = ? WHERE tenant = ? AND name = ?");
  db.exec("BEGIN IMMEDIATE");
  try {
    for (const row of rows) {
      const upgraded = upgradeGrants(JSON.parse(row.grants));
      if (upgraded !== undefined) update.run(JSON.stringify(upgraded), row.tenant, row.name);
    }
    db.exec("COMMIT");
  } catch (err) {
    db.exec("ROLLBACK");
    throw err;
  }
}
