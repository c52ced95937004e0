/**
 * One set of cases for both state stores: the embedded SQLite one and the Redis one that a fleet
 * of gateways shares (a real redis-server from the test harness). For Redis, `peer` is a second
 * store on the same server, as another gateway would have.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, before, describe, test } from "node:test";
import { type RedisServer, startRedisServer } from "../../test/harness/redis-server.ts";
import { startRedisCluster } from "../../test/harness/redis-topologies.ts";
import { GatewayError } from "../errors.ts";
import { createRedisStateStore } from "./redis.ts";
import { createSqliteStateStore } from "./sqlite.ts";
import {
  type AppRef,
  DEFAULT_TENANT,
  DEPLOYMENTS_RETAINED,
  type DeploymentRecord,
  type StateStore,
} from "./store.ts";

interface Subject {
  store: StateStore;
  /** Another store over the same data, or the same store when the backend has one process. */
  peer: StateStore;
  teardown(): Promise<void>;
}

const backends: Record<string, () => Promise<Subject>> = {
  async sqlite() {
    const dir = await mkdtemp(join(tmpdir(), "wasmgate-state-"));
    const store = createSqliteStateStore(dir);
    return {
      store,
      peer: store,
      async teardown() {
        await store.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
  async redis() {
    const server: RedisServer = await startRedisServer();
    const store = await createRedisStateStore({ url: server.url });
    const peer = await createRedisStateStore({ url: server.url });
    return {
      store,
      peer,
      async teardown() {
        await Promise.all([store.close(), peer.close()]);
        await server.destroy();
      },
    };
  },
  // Every key under one hash tag: the commit script, MGETs and the version all run in one slot.
  async "redis cluster"() {
    const cluster = await startRedisCluster(3);
    const topology = {
      kind: "cluster" as const,
      nodes: cluster.nodes.map((node) => ({ host: "127.0.0.1", port: node.port })),
    };
    const store = await createRedisStateStore({ topology });
    const peer = await createRedisStateStore({ topology });
    return {
      store,
      peer,
      async teardown() {
        await Promise.all([store.close(), peer.close()]);
        await cluster.destroy();
      },
    };
  },
};

function refusedWith(code: string) {
  return (err: unknown) => err instanceof GatewayError && err.code === code;
}

/** An app of the default tenant. */
const ref = (name: string, tenant = DEFAULT_TENANT): AppRef => ({ tenant, name });

let seq = 0;
function deployment(app: string, digest = "d".repeat(64)): DeploymentRecord {
  seq++;
  return {
    id: `dep_${String(seq).padStart(6, "0")}`,
    tenant: DEFAULT_TENANT,
    app,
    digest,
    size: 1,
    createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, seq)).toISOString(),
    createdBy: "operator",
    message: undefined,
    rollbackOf: undefined,
    info: {
      world: "edge",
      handlerExport: "wasmgate:edge/handler@0.1.0",
      singleUse: false,
      imports: [],
      files: [],
    },
  };
}

for (const [name, open] of Object.entries(backends)) {
  describe(`state store: ${name}`, () => {
    let s: Subject;
    before(async () => {
      s = await open();
    });
    after(() => s?.teardown());

    test("a hostname has one owner, taken atomically even when two writers race", async () => {
      const { store, peer } = s;
      await store.putApp(ref("a"), { hostnames: ["x.example.com", "*.w.example.com"] });
      await assert.rejects(
        peer.putApp(ref("b"), { hostnames: ["x.example.com"] }),
        refusedWith("ERR_HOSTNAME_TAKEN"),
      );
      assert.equal(await store.getApp(ref("b")), undefined, "a refused create leaves nothing behind");
      const race = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) =>
          (i % 2 ? peer : store).putApp(ref(`racer${i}`), { hostnames: ["contested.example.com"] }),
        ),
      );
      assert.equal(race.filter((r) => r.status === "fulfilled").length, 1);
      const route = await peer.routeFor("contested.example.com");
      assert.ok(route?.app.startsWith("racer"));
      // Replacing hostnames frees the old ones.
      await store.putApp(ref("a"), { hostnames: ["y.example.com"] });
      assert.equal(await peer.routeFor("x.example.com"), undefined);
      assert.equal((await peer.routeFor("y.example.com"))?.app, "a");
    });

    test("tenants: quota on apps, delete refused while apps remain, tokens revoked with the tenant", async () => {
      const { store, peer } = s;
      await store.putTenant("t1", { hostnames: ["*.t1.example.com"], quotas: { apps: 2 } });
      assert.deepEqual((await peer.getTenant("t1"))?.quotas, { apps: 2 });
      const results = await Promise.allSettled(
        ["q1", "q2", "q3", "q4"].map((app, i) =>
          (i % 2 ? peer : store).putApp({ tenant: "t1", name: app }, { maxApps: 2 }),
        ),
      );
      assert.equal(
        results.filter((r) => r.status === "fulfilled").length,
        2,
        "exactly the quota, under a race",
      );
      assert.equal((await store.listApps("t1")).length, 2);
      await store.addToken({
        id: "tok_1",
        tenant: "t1",
        scopes: ["apps:read"],
        description: undefined,
        createdAt: new Date().toISOString(),
        expiresAt: new Date(Date.now() + 60_000).toISOString(),
        revokedAt: undefined,
      });
      await assert.rejects(store.deleteTenant("t1"), refusedWith("ERR_TENANT_HAS_APPS"));
      for (const app of await store.listApps("t1")) assert.ok(await store.deleteApp(app));
      assert.equal(await peer.deleteTenant("t1"), true);
      assert.equal(await store.getTenant("t1"), undefined);
      assert.ok((await store.getToken("tok_1"))?.revokedAt);
      assert.equal(await store.deleteTenant("t1"), false);
    });

    test("tenants: the operator's private ranges are stored, kept on other changes, cleared, and routed", async () => {
      const { store, peer } = s;
      const created = await store.putTenant("net", { hostnames: ["*.net.example.com"] });
      assert.deepEqual(created.tenant.allowPrivateNetwork, [], "none until the operator opens one");
      await store.putTenant("net", { allowPrivateNetwork: ["10.0.0.0/8", "fd00::/8"] });
      assert.deepEqual((await peer.getTenant("net"))?.allowPrivateNetwork, ["10.0.0.0/8", "fd00::/8"]);
      await peer.putTenant("net", { quotas: { apps: 5 } });
      const kept = await store.getTenant("net");
      assert.deepEqual(kept?.allowPrivateNetwork, ["10.0.0.0/8", "fd00::/8"], "another change keeps them");
      assert.deepEqual(kept?.hostnames, ["*.net.example.com"]);
      assert.deepEqual((await peer.listTenants()).find((t) => t.name === "net")?.allowPrivateNetwork, [
        "10.0.0.0/8",
        "fd00::/8",
      ]);
      await store.putApp({ tenant: "net", name: "net-app" }, { hostnames: ["a.net.example.com"] });
      assert.deepEqual((await peer.routeFor("a.net.example.com"))?.allowPrivateNetwork, [
        "10.0.0.0/8",
        "fd00::/8",
      ]);
      await store.putApp(ref("net-default"), { hostnames: ["default.net-test.example.com"] });
      assert.deepEqual((await peer.routeFor("default.net-test.example.com"))?.allowPrivateNetwork, []);
      await peer.putTenant("net", { allowPrivateNetwork: [] });
      assert.deepEqual((await store.getTenant("net"))?.allowPrivateNetwork, []);
      assert.deepEqual((await store.routeFor("a.net.example.com"))?.allowPrivateNetwork, []);
      await store.deleteApp({ tenant: "net", name: "net-app" });
      await store.deleteApp(ref("net-default"));
    });

    test("grants: a new app has each grant's initial value; a change keeps the fields it leaves out", async () => {
      const { store, peer } = s;
      const { app } = await store.putApp(ref("granted"), { hostnames: ["granted.example.com"] });
      assert.deepEqual(app.grants, {
        buckets: ["default"],
        sharedBuckets: [],
        allowedOutboundHosts: [],
        sqliteDatabases: ["default"],
      });
      await store.putApp(ref("granted"), { grants: { buckets: ["carts", "sessions"] } });
      await peer.putApp(ref("granted"), { grants: { allowedOutboundHosts: ["https://api.example.com"] } });
      await store.putApp(ref("granted"), { grants: { sqliteDatabases: ["default", "drafts"] } });
      const expected = {
        buckets: ["carts", "sessions"],
        sharedBuckets: [],
        allowedOutboundHosts: ["https://api.example.com"],
        sqliteDatabases: ["default", "drafts"],
      };
      assert.deepEqual((await store.getApp(ref("granted")))?.grants, expected);
      assert.deepEqual((await peer.listApps()).find((a) => a.name === "granted")?.grants, expected);
      assert.deepEqual((await peer.routeFor("granted.example.com"))?.grants, expected);
      await store.putApp(ref("granted"), { limits: { cpuMs: 10 } });
      assert.deepEqual((await peer.getApp(ref("granted")))?.grants, expected, "another change keeps them");
      assert.deepEqual((await store.deleteApp(ref("granted")))?.grants, expected);
    });

    test("deployments: newest first, the newest ones retained, delete takes them with the app", async () => {
      const { store, peer } = s;
      await store.putApp(ref("deploys"), { hostnames: ["deploys.example.com"] });
      const ids: string[] = [];
      for (let i = 0; i < DEPLOYMENTS_RETAINED + 2; i++) {
        const d = deployment("deploys");
        ids.push(d.id);
        await (i % 2 ? peer : store).addDeployment(d);
      }
      const list = await peer.listDeployments(ref("deploys"), 100);
      assert.equal(list.length, DEPLOYMENTS_RETAINED);
      assert.deepEqual(
        list.map((d) => d.id),
        ids.slice(2).reverse(),
      );
      assert.equal(
        await store.getDeployment(ref("deploys"), ids[0]!),
        undefined,
        "dropped past the retention",
      );
      assert.equal((await store.getDeployment(ref("deploys"), ids.at(-1)!))?.app, "deploys");
      assert.equal(await store.getDeployment(ref("other-app"), ids.at(-1)!), undefined, "ids are per app");
      assert.equal((await store.getApp(ref("deploys")))?.activeDeployment, ids.at(-1));
      assert.equal((await peer.routeFor("deploys.example.com"))?.deployment?.id, ids.at(-1));
      await assert.rejects(store.addDeployment(deployment("no-such-app")), refusedWith("ERR_APP_NOT_FOUND"));

      const removed = await peer.deleteApp(ref("deploys"));
      assert.equal(removed?.name, "deploys");
      assert.equal(await store.routeFor("deploys.example.com"), undefined);
      assert.deepEqual(await store.listDeployments(ref("deploys"), 10), []);
      assert.equal(await store.deleteApp(ref("deploys")), undefined);
    });

    test("variables and secrets share one namespace per app and go with the app", async () => {
      const { store, peer } = s;
      await store.putApp(ref("cfg"), {});
      await store.setVar(ref("cfg"), "region", "eu", 2);
      await assert.rejects(
        peer.putSecret(ref("cfg"), "region", "sealed", 2),
        refusedWith("ERR_CONFIG_NAME_TAKEN"),
      );
      await peer.putSecret(ref("cfg"), "token", "sealed", 2);
      await assert.rejects(store.setVar(ref("cfg"), "token", "x", 2), refusedWith("ERR_CONFIG_NAME_TAKEN"));
      await store.setVar(ref("cfg"), "zone", "a", 2);
      await assert.rejects(store.setVar(ref("cfg"), "third", "x", 2), refusedWith("ERR_VALIDATION"));
      await store.setVar(ref("cfg"), "zone", "b", 2);
      assert.deepEqual(await peer.listVars(ref("cfg")), [
        ["region", "eu"],
        ["zone", "b"],
      ]);
      assert.equal(await store.deleteVar(ref("cfg"), "zone"), true);
      assert.equal(await store.deleteVar(ref("cfg"), "zone"), false);
      await store.deleteApp(ref("cfg"));
      await store.putApp(ref("cfg"), {});
      assert.deepEqual(await peer.listVars(ref("cfg")), []);
      assert.deepEqual(await peer.listSecrets(ref("cfg")), []);
    });

    test("app names are per tenant: two tenants' apps of one name keep their own records", async () => {
      const { store, peer } = s;
      const acme = ref("twin", "acme");
      const globex = ref("twin", "globex");
      await store.putApp(acme, { hostnames: ["twin.acme.example.com"], limits: { cpuMs: 5 } });
      await peer.putApp(globex, { hostnames: ["twin.globex.example.com"] });
      assert.deepEqual((await store.getApp(acme))?.limits, { cpuMs: 5 });
      assert.deepEqual((await store.getApp(globex))?.limits, {});
      assert.deepEqual(await store.tenantsWithApp("twin"), ["acme", "globex"]);
      assert.deepEqual(
        (await peer.listApps("acme")).map((a) => `${a.tenant}/${a.name}`),
        ["acme/twin"],
      );
      assert.equal((await peer.routeFor("twin.acme.example.com"))?.tenant, "acme");
      assert.equal((await peer.routeFor("twin.globex.example.com"))?.tenant, "globex");

      await store.setVar(acme, "region", "eu", 5);
      await peer.putSecret(globex, "token", "sealed", 5);
      assert.deepEqual(await peer.listVars(globex), []);
      assert.deepEqual(await store.listSecrets(acme), []);
      const d = { ...deployment("twin"), tenant: "acme" };
      await store.addDeployment(d);
      assert.equal((await peer.getDeployment(acme, d.id))?.id, d.id);
      assert.equal(
        await peer.getDeployment(globex, d.id),
        undefined,
        "another tenant's deployment is not found",
      );
      assert.deepEqual(await peer.listDeployments(globex, 10), []);

      // A hostname of the same tenant's app is named; another tenant's is not.
      await store.putApp(ref("other", "acme"), {});
      await assert.rejects(
        peer.putApp(ref("other", "acme"), { hostnames: ["twin.acme.example.com"] }),
        (err: unknown) =>
          err instanceof GatewayError &&
          err.code === "ERR_HOSTNAME_TAKEN" &&
          err.message.includes("bound to app twin"),
      );
      await assert.rejects(
        peer.putApp(ref("other", "acme"), { hostnames: ["twin.globex.example.com"] }),
        (err: unknown) =>
          err instanceof GatewayError &&
          err.code === "ERR_HOSTNAME_TAKEN" &&
          err.message === "hostname twin.globex.example.com is taken; choose another",
      );

      assert.equal((await peer.deleteApp(acme))?.tenant, "acme");
      assert.equal(await store.getApp(acme), undefined);
      assert.equal((await store.getApp(globex))?.name, "twin", "the other tenant's app stays");
      assert.deepEqual(await store.listSecrets(globex), [
        { name: "token", sealed: "sealed", updatedAt: (await store.listSecrets(globex))[0]!.updatedAt },
      ]);
      await store.deleteApp(globex);
      await store.deleteApp(ref("other", "acme"));
    });

    test("artifacts are stored once per digest", async () => {
      const { store, peer } = s;
      const digest = "a".repeat(64);
      assert.equal(await store.hasArtifact(digest), false);
      await store.putArtifact(digest, new Uint8Array([0, 97, 115, 109]));
      await peer.putArtifact(digest, new Uint8Array([0, 97, 115, 109]));
      assert.deepEqual(await peer.getArtifact(digest), new Uint8Array([0, 97, 115, 109]));
    });

    test("another store hears of a change, and a store does not hear of its own", async () => {
      const { store, peer } = s;
      if (store === peer) return; // One process: changes are invalidated where they are made.
      let peerHeard = 0;
      let selfHeard = 0;
      const stopPeer = peer.onExternalChange(() => peerHeard++);
      const stopSelf = store.onExternalChange(() => selfHeard++);
      const before = await store.version();
      await store.putApp(ref("noisy"), { hostnames: ["noisy.example.com"] });
      assert.ok((await peer.version()) > before);
      for (let i = 0; i < 100 && peerHeard === 0; i++) await new Promise((r) => setTimeout(r, 10));
      stopPeer();
      stopSelf();
      assert.ok(peerHeard >= 1, "the other store was told");
      assert.equal(selfHeard, 0, "the writer was not");
    });
  });
}

describe("state store: sqlite, a state directory from before private ranges", () => {
  test("opens with its tenants and apps kept, and none of them granted a private range", async () => {
    const dir = await mkdtemp(join(tmpdir(), "wasmgate-state-old-"));
    try {
      // The tables as they were: no tenants.allow_private_network (nor the later apps columns).
      const old = new DatabaseSync(join(dir, "state.db"));
      old.exec(`
        CREATE TABLE apps (name TEXT PRIMARY KEY, active_deployment TEXT, limits TEXT NOT NULL DEFAULT '{}',
          tenant TEXT NOT NULL DEFAULT 'default', buckets TEXT NOT NULL DEFAULT '["default"]',
          created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
        CREATE TABLE hostnames (pattern TEXT PRIMARY KEY, app TEXT NOT NULL REFERENCES apps(name) ON DELETE CASCADE);
        CREATE TABLE tenants (name TEXT PRIMARY KEY, hostnames TEXT NOT NULL, quotas TEXT NOT NULL, jwks TEXT,
          created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
        INSERT INTO tenants VALUES ('old', '["*.old.example.com"]', '{"apps":3}', NULL, '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z');
        INSERT INTO apps (name, tenant, created_at, updated_at) VALUES ('old-app', 'old', '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z');
        INSERT INTO hostnames VALUES ('a.old.example.com', 'old-app');
      `);
      old.close();
      const store = createSqliteStateStore(dir);
      try {
        const tenant = await store.getTenant("old");
        assert.deepEqual(tenant?.hostnames, ["*.old.example.com"]);
        assert.deepEqual(tenant?.quotas, { apps: 3 });
        assert.deepEqual(tenant?.allowPrivateNetwork, []);
        assert.equal(tenant?.createdAt, "2025-01-01T00:00:00.000Z");
        const route = await store.routeFor("a.old.example.com");
        assert.equal(route?.app, "old-app");
        assert.deepEqual(route?.allowPrivateNetwork, []);
        await store.putTenant("old", { allowPrivateNetwork: ["192.168.0.0/16"] });
        assert.deepEqual((await store.routeFor("a.old.example.com"))?.allowPrivateNetwork, [
          "192.168.0.0/16",
        ]);
      } finally {
        await store.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("state store: sqlite, a state directory from before grants were listed by capability", () => {
  test("keeps each app's buckets (as tenant-level shares) and allowed outbound hosts, and changes one without the other", async () => {
    const dir = await mkdtemp(join(tmpdir(), "wasmgate-state-grants-"));
    try {
      const old = new DatabaseSync(join(dir, "state.db"));
      old.exec(`
        CREATE TABLE apps (name TEXT PRIMARY KEY, active_deployment TEXT, limits TEXT NOT NULL DEFAULT '{}',
          tenant TEXT NOT NULL DEFAULT 'default', buckets TEXT NOT NULL DEFAULT '["default"]',
          created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
          allowed_outbound_hosts TEXT NOT NULL DEFAULT '[]');
        CREATE TABLE hostnames (pattern TEXT PRIMARY KEY, app TEXT NOT NULL REFERENCES apps(name) ON DELETE CASCADE);
        INSERT INTO apps (name, buckets, allowed_outbound_hosts, created_at, updated_at)
          VALUES ('shop', '["carts","sessions"]', '["https://api.example.com"]', '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z'),
                 ('plain', '["default"]', '[]', '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z');
        INSERT INTO hostnames VALUES ('shop.example.com', 'shop');
      `);
      old.close();
      const store = createSqliteStateStore(dir);
      try {
        const shop = await store.getApp(ref("shop"));
        assert.deepEqual(shop?.grants, {
          buckets: [],
          sharedBuckets: ["carts", "sessions"],
          allowedOutboundHosts: ["https://api.example.com"],
          sqliteDatabases: ["default"],
        });
        assert.deepEqual((await store.getApp(ref("plain")))?.grants, {
          buckets: [],
          sharedBuckets: ["default"],
          allowedOutboundHosts: [],
          sqliteDatabases: ["default"],
        });
        assert.deepEqual((await store.routeFor("shop.example.com"))?.grants, shop?.grants);
        await store.putApp(ref("shop"), { grants: { allowedOutboundHosts: [] } });
        assert.deepEqual((await store.getApp(ref("shop")))?.grants, {
          buckets: [],
          sharedBuckets: ["carts", "sessions"],
          allowedOutboundHosts: [],
          sqliteDatabases: ["default"],
        });
      } finally {
        await store.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** A redis-server of its own and a raw client on it, for writing what an earlier gateway wrote. */
async function withRawRedis(
  body: (server: RedisServer, raw: import("ioredis").Redis) => Promise<void>,
): Promise<void> {
  const server = await startRedisServer();
  const { Redis } = await import("ioredis");
  const raw = new Redis(server.url);
  try {
    await body(server, raw);
  } finally {
    raw.disconnect();
    await server.destroy();
  }
}

describe("state store: redis, app records from before buckets were an app's own", () => {
  test("are read, and rewritten once at start, with their buckets as tenant-level shares", () =>
    withRawRedis(async (server, raw) => {
      // What an earlier gateway wrote: the grant fields beside the others, no sharedBuckets.
      const old = {
        name: "shop",
        tenant: "acme",
        hostnames: [],
        limits: {},
        createdAt: "2025-01-01T00:00:00.000Z",
        updatedAt: "2025-01-01T00:00:00.000Z",
        buckets: ["carts", "sessions"],
        allowedOutboundHosts: [],
      };
      await raw.set("{wasmgate}:app:shop", JSON.stringify(old));
      await raw.sadd("{wasmgate}:apps", "shop");
      await raw.sadd("{wasmgate}:tenant-apps:acme", "shop");
      const store = await createRedisStateStore({ url: server.url });
      try {
        const expected = {
          buckets: [],
          sharedBuckets: ["carts", "sessions"],
          allowedOutboundHosts: [],
          sqliteDatabases: ["default"],
        };
        assert.deepEqual((await store.getApp(ref("shop", "acme")))?.grants, expected);
        const rewritten = JSON.parse((await raw.get("{wasmgate}:app:acme/shop"))!);
        assert.deepEqual(rewritten.sharedBuckets, ["carts", "sessions"], "stored as upgraded");
        assert.deepEqual(rewritten.buckets, []);
      } finally {
        await store.close();
      }
    }));
});

/** What the migration tests check after each start: the app, under its tenant, with all it had. */
async function assertMovedUnderTenant(store: StateStore, deploymentId: string) {
  const shop = ref("shop", "acme");
  const app = await store.getApp(shop);
  assert.equal(app?.tenant, "acme");
  assert.deepEqual(app?.hostnames, ["shop.acme.example.com"]);
  assert.equal(app?.activeDeployment, deploymentId);
  assert.equal(await store.getApp(ref("shop")), undefined, "not in the default tenant");
  const route = await store.routeFor("shop.acme.example.com");
  assert.equal(route?.tenant, "acme");
  assert.equal(route?.app, "shop");
  assert.equal(route?.deployment?.id, deploymentId);
  assert.equal(route?.deployment?.tenant, "acme");
  assert.deepEqual(
    (await store.listDeployments(shop, 10)).map((d) => d.id),
    [deploymentId],
  );
  assert.deepEqual(await store.listVars(shop), [["region", "eu"]]);
  assert.deepEqual(
    (await store.listSecrets(shop)).map((s) => [s.name, s.sealed]),
    [["token", "v1.sealed"]],
  );
  assert.deepEqual(
    (await store.listApps()).map((a) => `${a.tenant}/${a.name}`),
    ["default/blog", "acme/shop"],
  );
  assert.deepEqual(await store.tenantsWithApp("shop"), ["acme"]);
  // Another tenant may now have an app of the same name.
  await store.putApp(ref("shop", "globex"), {});
  assert.deepEqual(await store.tenantsWithApp("shop"), ["acme", "globex"]);
  await store.deleteApp(ref("shop", "globex"));
}

const LEGACY_INFO = JSON.stringify({
  world: "edge",
  handlerExport: "wasmgate:edge/handler@0.1.0",
  singleUse: false,
  imports: [],
  files: [],
});

describe("state store: sqlite, a state directory from before app names were per tenant", () => {
  test("moves each app under its tenant with its hostnames, deployments, variables and secrets, once", async () => {
    const dir = await mkdtemp(join(tmpdir(), "wasmgate-state-names-"));
    try {
      // The tables as the last gateway keying apps by name alone left them.
      const old = new DatabaseSync(join(dir, "state.db"));
      old.exec(`
        CREATE TABLE apps (name TEXT PRIMARY KEY, active_deployment TEXT, limits TEXT NOT NULL DEFAULT '{}',
          tenant TEXT NOT NULL DEFAULT 'default', buckets TEXT NOT NULL DEFAULT '["default"]',
          created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
          allowed_outbound_hosts TEXT NOT NULL DEFAULT '[]', grants TEXT NOT NULL DEFAULT '{}');
        CREATE TABLE hostnames (pattern TEXT PRIMARY KEY, app TEXT NOT NULL REFERENCES apps(name) ON DELETE CASCADE);
        CREATE INDEX hostnames_app ON hostnames(app);
        CREATE TABLE deployments (id TEXT PRIMARY KEY, app TEXT NOT NULL, digest TEXT NOT NULL, size INTEGER NOT NULL,
          created_at TEXT NOT NULL, created_by TEXT NOT NULL, message TEXT, info TEXT NOT NULL,
          rollback_of TEXT, routes TEXT);
        CREATE INDEX deployments_app ON deployments(app, created_at);
        CREATE TABLE app_vars (app TEXT NOT NULL REFERENCES apps(name) ON DELETE CASCADE, name TEXT NOT NULL,
          value TEXT NOT NULL, PRIMARY KEY (app, name));
        CREATE TABLE app_secrets (app TEXT NOT NULL REFERENCES apps(name) ON DELETE CASCADE, name TEXT NOT NULL,
          sealed TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (app, name));
        CREATE TABLE tenants (name TEXT PRIMARY KEY, hostnames TEXT NOT NULL, quotas TEXT NOT NULL, jwks TEXT,
          created_at TEXT NOT NULL, updated_at TEXT NOT NULL, allow_private_network TEXT NOT NULL DEFAULT '[]');
        INSERT INTO tenants (name, hostnames, quotas, created_at, updated_at)
          VALUES ('acme', '["*.acme.example.com"]', '{}', '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z');
        INSERT INTO apps (name, tenant, active_deployment, grants, created_at, updated_at)
          VALUES ('shop', 'acme', 'dep_old', '{"buckets":["default"],"sharedBuckets":[],"allowedOutboundHosts":[],"sqliteDatabases":["default"]}',
                  '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z'),
                 ('blog', 'default', NULL, '{"buckets":["default"],"sharedBuckets":[],"allowedOutboundHosts":[],"sqliteDatabases":["default"]}',
                  '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z');
        INSERT INTO hostnames VALUES ('shop.acme.example.com', 'shop');
        INSERT INTO deployments (id, app, digest, size, created_at, created_by, info)
          VALUES ('dep_old', 'shop', '${"d".repeat(64)}', 1, '2025-01-01T00:00:00.000Z', 'operator', '${LEGACY_INFO}');
        INSERT INTO app_vars VALUES ('shop', 'region', 'eu');
        INSERT INTO app_secrets VALUES ('shop', 'token', 'v1.sealed', '2025-01-01T00:00:00.000Z');
      `);
      old.close();
      for (let start = 0; start < 2; start++) {
        const store = createSqliteStateStore(dir);
        try {
          await assertMovedUnderTenant(store, "dep_old");
        } finally {
          await store.close();
        }
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("state store: redis, app records from before app names were per tenant", () => {
  test("are moved under their tenants at start with all they had, once, and old keys go", () =>
    withRawRedis(async (server, raw) => {
      const P = "{wasmgate}:";
      const grants = {
        buckets: ["default"],
        sharedBuckets: [],
        allowedOutboundHosts: [],
        sqliteDatabases: ["default"],
      };
      const at = "2025-01-01T00:00:00.000Z";
      const shop = {
        name: "shop",
        tenant: "acme",
        hostnames: ["shop.acme.example.com"],
        limits: {},
        activeDeployment: "dep_old",
        createdAt: at,
        updatedAt: at,
        ...grants,
      };
      const blog = {
        name: "blog",
        tenant: "default",
        hostnames: [],
        limits: {},
        createdAt: at,
        updatedAt: at,
        ...grants,
      };
      const dep = {
        id: "dep_old",
        app: "shop",
        digest: "d".repeat(64),
        size: 1,
        createdAt: at,
        createdBy: "operator",
        info: JSON.parse(LEGACY_INFO),
      };
      await raw.set(
        `${P}tenant:acme`,
        JSON.stringify({
          name: "acme",
          hostnames: ["*.acme.example.com"],
          quotas: {},
          createdAt: at,
          updatedAt: at,
        }),
      );
      await raw.sadd(`${P}tenants`, "acme");
      await raw.set(`${P}app:shop`, JSON.stringify(shop));
      await raw.set(`${P}app:blog`, JSON.stringify(blog));
      await raw.sadd(`${P}apps`, "shop", "blog");
      await raw.sadd(`${P}tenant-apps:acme`, "shop");
      await raw.sadd(`${P}tenant-apps:default`, "blog");
      await raw.set(`${P}host:shop.acme.example.com`, "shop");
      await raw.set(`${P}dep:dep_old`, JSON.stringify(dep));
      await raw.lpush(`${P}deps:shop`, "dep_old");
      await raw.hset(`${P}vars:shop`, "region", "eu");
      await raw.hset(`${P}secrets:shop`, "token", JSON.stringify({ sealed: "v1.sealed", updatedAt: at }));
      for (let start = 0; start < 2; start++) {
        // Two gateways starting together move each app once.
        const [store, peer] = await Promise.all([
          createRedisStateStore({ url: server.url }),
          createRedisStateStore({ url: server.url }),
        ]);
        try {
          await assertMovedUnderTenant(store, "dep_old");
        } finally {
          await Promise.all([store.close(), peer.close()]);
        }
      }
      assert.deepEqual((await raw.smembers(`${P}apps`)).sort(), ["acme/shop", "default/blog"]);
      for (const gone of ["app:shop", "app:blog", "deps:shop", "vars:shop", "secrets:shop"]) {
        assert.equal(await raw.exists(`${P}${gone}`), 0, `${gone} is gone`);
      }
      assert.equal(await raw.get(`${P}host:shop.acme.example.com`), "acme/shop");
    }));
});
