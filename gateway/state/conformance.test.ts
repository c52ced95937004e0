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
import { DEPLOYMENTS_RETAINED, type DeploymentRecord, type StateStore } from "./store.ts";

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

let seq = 0;
function deployment(app: string, digest = "d".repeat(64)): DeploymentRecord {
  seq++;
  return {
    id: `dep_${String(seq).padStart(6, "0")}`,
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
      await store.putApp("a", { hostnames: ["x.example.com", "*.w.example.com"] });
      await assert.rejects(
        peer.putApp("b", { hostnames: ["x.example.com"] }),
        refusedWith("ERR_HOSTNAME_TAKEN"),
      );
      assert.equal(await store.getApp("b"), undefined, "a refused create leaves nothing behind");
      const race = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) =>
          (i % 2 ? peer : store).putApp(`racer${i}`, { hostnames: ["contested.example.com"] }),
        ),
      );
      assert.equal(race.filter((r) => r.status === "fulfilled").length, 1);
      const route = await peer.routeFor("contested.example.com");
      assert.ok(route?.app.startsWith("racer"));
      // Replacing hostnames frees the old ones.
      await store.putApp("a", { hostnames: ["y.example.com"] });
      assert.equal(await peer.routeFor("x.example.com"), undefined);
      assert.equal((await peer.routeFor("y.example.com"))?.app, "a");
    });

    test("tenants: quota on apps, delete refused while apps remain, tokens revoked with the tenant", async () => {
      const { store, peer } = s;
      await store.putTenant("t1", { hostnames: ["*.t1.example.com"], quotas: { apps: 2 } });
      assert.deepEqual((await peer.getTenant("t1"))?.quotas, { apps: 2 });
      const results = await Promise.allSettled(
        ["q1", "q2", "q3", "q4"].map((app, i) =>
          (i % 2 ? peer : store).putApp(app, { tenant: "t1", maxApps: 2 }),
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
      for (const app of await store.listApps("t1")) assert.ok(await store.deleteApp(app.name));
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
      await store.putApp("net-app", { tenant: "net", hostnames: ["a.net.example.com"] });
      assert.deepEqual((await peer.routeFor("a.net.example.com"))?.allowPrivateNetwork, [
        "10.0.0.0/8",
        "fd00::/8",
      ]);
      await store.putApp("net-default", { hostnames: ["default.net-test.example.com"] });
      assert.deepEqual((await peer.routeFor("default.net-test.example.com"))?.allowPrivateNetwork, []);
      await peer.putTenant("net", { allowPrivateNetwork: [] });
      assert.deepEqual((await store.getTenant("net"))?.allowPrivateNetwork, []);
      assert.deepEqual((await store.routeFor("a.net.example.com"))?.allowPrivateNetwork, []);
      await store.deleteApp("net-app");
      await store.deleteApp("net-default");
    });

    test("grants: a new app has each grant's initial value; a change keeps the fields it leaves out", async () => {
      const { store, peer } = s;
      const { app } = await store.putApp("granted", { hostnames: ["granted.example.com"] });
      assert.deepEqual(app.grants, {
        buckets: ["default"],
        sharedBuckets: [],
        allowedOutboundHosts: [],
        sqliteDatabases: ["default"],
      });
      await store.putApp("granted", { grants: { buckets: ["carts", "sessions"] } });
      await peer.putApp("granted", { grants: { allowedOutboundHosts: ["https://api.example.com"] } });
      await store.putApp("granted", { grants: { sqliteDatabases: ["default", "drafts"] } });
      const expected = {
        buckets: ["carts", "sessions"],
        sharedBuckets: [],
        allowedOutboundHosts: ["https://api.example.com"],
        sqliteDatabases: ["default", "drafts"],
      };
      assert.deepEqual((await store.getApp("granted"))?.grants, expected);
      assert.deepEqual((await peer.listApps()).find((a) => a.name === "granted")?.grants, expected);
      assert.deepEqual((await peer.routeFor("granted.example.com"))?.grants, expected);
      await store.putApp("granted", { limits: { cpuMs: 10 } });
      assert.deepEqual((await peer.getApp("granted"))?.grants, expected, "another change keeps them");
      assert.deepEqual((await store.deleteApp("granted"))?.grants, expected);
    });

    test("deployments: newest first, the newest ones retained, delete takes them with the app", async () => {
      const { store, peer } = s;
      await store.putApp("deploys", { hostnames: ["deploys.example.com"] });
      const ids: string[] = [];
      for (let i = 0; i < DEPLOYMENTS_RETAINED + 2; i++) {
        const d = deployment("deploys");
        ids.push(d.id);
        await (i % 2 ? peer : store).addDeployment(d);
      }
      const list = await peer.listDeployments("deploys", 100);
      assert.equal(list.length, DEPLOYMENTS_RETAINED);
      assert.deepEqual(
        list.map((d) => d.id),
        ids.slice(2).reverse(),
      );
      assert.equal(await store.getDeployment("deploys", ids[0]!), undefined, "dropped past the retention");
      assert.equal((await store.getDeployment("deploys", ids.at(-1)!))?.app, "deploys");
      assert.equal(await store.getDeployment("other-app", ids.at(-1)!), undefined, "ids are per app");
      assert.equal((await store.getApp("deploys"))?.activeDeployment, ids.at(-1));
      assert.equal((await peer.routeFor("deploys.example.com"))?.deployment?.id, ids.at(-1));
      await assert.rejects(store.addDeployment(deployment("no-such-app")), refusedWith("ERR_APP_NOT_FOUND"));

      const removed = await peer.deleteApp("deploys");
      assert.equal(removed?.name, "deploys");
      assert.equal(await store.routeFor("deploys.example.com"), undefined);
      assert.deepEqual(await store.listDeployments("deploys", 10), []);
      assert.equal(await store.deleteApp("deploys"), undefined);
    });

    test("variables and secrets share one namespace per app and go with the app", async () => {
      const { store, peer } = s;
      await store.putApp("cfg", {});
      await store.setVar("cfg", "region", "eu", 2);
      await assert.rejects(
        peer.putSecret("cfg", "region", "sealed", 2),
        refusedWith("ERR_CONFIG_NAME_TAKEN"),
      );
      await peer.putSecret("cfg", "token", "sealed", 2);
      await assert.rejects(store.setVar("cfg", "token", "x", 2), refusedWith("ERR_CONFIG_NAME_TAKEN"));
      await store.setVar("cfg", "zone", "a", 2);
      await assert.rejects(store.setVar("cfg", "third", "x", 2), refusedWith("ERR_VALIDATION"));
      await store.setVar("cfg", "zone", "b", 2);
      assert.deepEqual(await peer.listVars("cfg"), [
        ["region", "eu"],
        ["zone", "b"],
      ]);
      assert.equal(await store.deleteVar("cfg", "zone"), true);
      assert.equal(await store.deleteVar("cfg", "zone"), false);
      await store.deleteApp("cfg");
      await store.putApp("cfg", {});
      assert.deepEqual(await peer.listVars("cfg"), []);
      assert.deepEqual(await peer.listSecrets("cfg"), []);
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
      await store.putApp("noisy", { hostnames: ["noisy.example.com"] });
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
        const shop = await store.getApp("shop");
        assert.deepEqual(shop?.grants, {
          buckets: [],
          sharedBuckets: ["carts", "sessions"],
          allowedOutboundHosts: ["https://api.example.com"],
          sqliteDatabases: ["default"],
        });
        assert.deepEqual((await store.getApp("plain"))?.grants, {
          buckets: [],
          sharedBuckets: ["default"],
          allowedOutboundHosts: [],
          sqliteDatabases: ["default"],
        });
        assert.deepEqual((await store.routeFor("shop.example.com"))?.grants, shop?.grants);
        await store.putApp("shop", { grants: { allowedOutboundHosts: [] } });
        assert.deepEqual((await store.getApp("shop"))?.grants, {
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

describe("state store: redis, app records from before buckets were an app's own", () => {
  test("are read, and rewritten once at start, with their buckets as tenant-level shares", async () => {
    const server = await startRedisServer();
    const { Redis } = await import("ioredis");
    const raw = new Redis(server.url);
    try {
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
        assert.deepEqual((await store.getApp("shop"))?.grants, expected);
        const rewritten = JSON.parse((await raw.get("{wasmgate}:app:shop"))!);
        assert.deepEqual(rewritten.sharedBuckets, ["carts", "sessions"], "stored as upgraded");
        assert.deepEqual(rewritten.buckets, []);
        // A record an older gateway writes later (a fleet mid-upgrade) is read the same way.
        await raw.set("{wasmgate}:app:shop", JSON.stringify({ ...old, buckets: ["carts"] }));
        assert.deepEqual((await store.getApp("shop"))?.grants, { ...expected, sharedBuckets: ["carts"] });
      } finally {
        await store.close();
      }
    } finally {
      raw.disconnect();
      await server.destroy();
    }
  });
});
