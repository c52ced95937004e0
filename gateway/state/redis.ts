// The shared state store: tenants, tokens, apps, hostnames, deployments and artifacts in Redis, so
// any number of gateway processes behave as one. Every change is one Lua script run: it checks
// that what the change was computed from is still current (optimistic concurrency), applies it,
// bumps a version counter and publishes the new version. Other gateways drop their caches on the
// message, and a version poll catches any message they missed.
// Over 400 lines on purpose: one StateStore implementation whose methods all plan a change for
// the one commit script; split, each part would need the others' key layout and plan types.
//
// Keys share the hash tag `{wasmgate}`, so on a Redis Cluster all of them live in one slot: the
// commit script may touch any of them (those it names in its plan as well as KEYS), MGET reads
// them in one call, and the published version reaches every node's subscribers over the cluster
// bus. The client comes from the kv module's topology support (one server, Cluster, Sentinel).

import { setTimeout as sleep } from "node:timers/promises";
import { createRedisClient, type RedisClient, type RedisTopology, redisHealth } from "../../kv/index.ts";
import { GatewayError } from "../errors.ts";
import { completeGrants, storedGrants, upgradeGrants } from "../grants.ts";
import type { Logger } from "../logger.ts";
import {
  type AppRecord,
  type AppRef,
  appKey,
  configNameTaken,
  DEFAULT_TENANT,
  DEPLOYMENTS_RETAINED,
  type DeploymentRecord,
  hostnameTaken,
  quotaExceeded,
  type StateStore,
  type TenantRecord,
  type TokenRecord,
  tenantHasApps,
} from "./store.ts";

const P = "{wasmgate}:";
const K = {
  version: `${P}version`,
  channel: `${P}changed`,
  /** An app's record, by its key (`<tenant>/<name>`); `apps` holds the keys. */
  app: (app: AppRef) => K.appByKey(appKey(app)),
  appByKey: (key: string) => `${P}app:${key}`,
  apps: `${P}apps`,
  /** The names of a tenant's apps. */
  tenantApps: (tenant: string) => `${P}tenant-apps:${tenant}`,
  /** The key of the app a hostname pattern is bound to. */
  host: (pattern: string) => `${P}host:${pattern}`,
  dep: (id: string) => `${P}dep:${id}`,
  deps: (app: AppRef) => `${P}deps:${appKey(app)}`,
  vars: (app: AppRef) => `${P}vars:${appKey(app)}`,
  secrets: (app: AppRef) => `${P}secrets:${appKey(app)}`,
  /** Where a record of before app names were per tenant kept what is now under `<tenant>/<name>`. */
  legacy: (kind: "app" | "deps" | "vars" | "secrets", name: string) => `${P}${kind}:${name}`,
  tenant: (name: string) => `${P}tenant:${name}`,
  tenants: `${P}tenants`,
  token: (id: string) => `${P}token:${id}`,
  tokens: `${P}tokens`,
  artifact: (digest: string) => `${P}artifact:${digest}`,
  prepared: (format: string, digest: string) => `${P}prepared:${format}:${digest}`,
  key: (name: string) => `${P}key:${name}`,
};

/** How often each gateway compares the version, in case a pub/sub message was lost. */
const DEFAULT_POLL_MS = 250;
const MAX_ATTEMPTS = 50;

type Check =
  /** The key holds exactly `v` (null: does not exist). */
  | { t: "eq"; k: string; v: string | null }
  /** The key does not exist or holds `v` (a hostname free or already ours). */
  | { t: "free"; k: string; v: string }
  /** The set has fewer than `n` members. */
  | { t: "scardLt"; k: string; n: number }
  /** The hash has the field, or fewer than `n` fields. */
  | { t: "room"; k: string; f: string; n: number }
  /** The hash does not have the field. */
  | { t: "hnot"; k: string; f: string };

type Op =
  | { t: "set"; k: string; v: string }
  | { t: "del"; k: string }
  | { t: "sadd" | "srem"; k: string; m: string }
  | { t: "hset"; k: string; f: string; v: string }
  | { t: "hdel"; k: string; f: string }
  | { t: "lpush"; k: string; v: string }
  | { t: "ltrim"; k: string; n: number }
  /** Renames the key when it exists. */
  | { t: "rename"; k: string; to: string };

const COMMIT = `
local plan = cjson.decode(ARGV[1])
for i, c in ipairs(plan.checks) do
  if c.t == 'eq' then
    local v = redis.call('GET', c.k)
    if c.v == cjson.null then
      if v then return {'conflict', c.k} end
    elseif v ~= c.v then return {'conflict', c.k} end
  elseif c.t == 'free' then
    local v = redis.call('GET', c.k)
    if v and v ~= c.v then return {'taken', c.k} end
  elseif c.t == 'scardLt' then
    if redis.call('SCARD', c.k) >= c.n then return {'full', c.k} end
  elseif c.t == 'room' then
    if redis.call('HEXISTS', c.k, c.f) == 0 and redis.call('HLEN', c.k) >= c.n then return {'full', c.k} end
  elseif c.t == 'hnot' then
    if redis.call('HEXISTS', c.k, c.f) == 1 then return {'exists', c.k} end
  end
end
for _, o in ipairs(plan.ops) do
  if o.t == 'set' then redis.call('SET', o.k, o.v)
  elseif o.t == 'del' then redis.call('DEL', o.k)
  elseif o.t == 'sadd' then redis.call('SADD', o.k, o.m)
  elseif o.t == 'srem' then redis.call('SREM', o.k, o.m)
  elseif o.t == 'hset' then redis.call('HSET', o.k, o.f, o.v)
  elseif o.t == 'hdel' then redis.call('HDEL', o.k, o.f)
  elseif o.t == 'lpush' then redis.call('LPUSH', o.k, o.v)
  elseif o.t == 'ltrim' then redis.call('LTRIM', o.k, 0, o.n - 1)
  elseif o.t == 'rename' then
    if redis.call('EXISTS', o.k) == 1 then redis.call('RENAME', o.k, o.to) end
  end
end
local version = redis.call('INCR', KEYS[1])
redis.call('PUBLISH', KEYS[2], version)
return {'ok', tostring(version)}
`;

type Outcome = { ok: true } | { ok: false; reason: "taken" | "full" | "exists"; key: string };

/** A change computed from what was read, or a result that needs no change. */
type Plan<T> = { checks: Check[]; ops: Op[]; result: T } | { result: T; checks?: undefined };

/**
 * An app as the JSON of its key holds it: the grant fields sit beside the others, as they did
 * before grants were listed by capability, so gateways of either version read each other's apps.
 */
type StoredApp = Omit<AppRecord, "grants"> & Record<string, unknown>;

function toStoredApp({ grants, ...rest }: AppRecord): StoredApp {
  return { ...rest, ...grants };
}

function fromStoredApp(stored: StoredApp | undefined): AppRecord | undefined {
  if (!stored) return undefined;
  // Read as today's grants: a record an older gateway wrote is read as its upgrade says.
  const grants = storedGrants(stored);
  const rest: Record<string, unknown> = { ...stored };
  for (const field of Object.keys(grants)) delete rest[field];
  return { ...(rest as Omit<AppRecord, "grants">), grants };
}

export interface RedisStateStore extends StateStore {
  /**
   * A key shared by every gateway on this Redis: the first one to start stores `create()`'s
   * value; all of them get the stored one.
   */
  sharedKey(name: string, create: () => Promise<string> | string): Promise<string>;
}

export interface RedisStateOptions {
  /** Where Redis is: one server, a Cluster or a Sentinel-managed master. */
  topology?: RedisTopology;
  /** Short for `topology: { kind: "standalone", url }`. */
  url?: string;
  logger?: Logger;
  /** How long to wait for Redis at start before giving up. */
  connectTimeoutMs?: number;
  /**
   * Start even when Redis cannot be reached within `connectTimeoutMs`: calls fail with
   * ERR_STATE_UNAVAILABLE until it can, and the client keeps reconnecting (a gateway serving its
   * route snapshot during an outage).
   */
  startWithoutRedis?: boolean;
  /** How often to compare the version, in case a pub/sub message was lost. Default 250 ms. */
  pollMs?: number;
}

export async function createRedisStateStore(options: RedisStateOptions): Promise<RedisStateStore> {
  const { logger } = options;
  const topology: RedisTopology | undefined =
    options.topology ?? (options.url === undefined ? undefined : { kind: "standalone", url: options.url });
  if (topology === undefined) throw new TypeError("createRedisStateStore needs `topology` or `url`");
  const clientOptions = {
    // Fail at once while disconnected: an admin call or an uncached route lookup answers 503
    // instead of hanging; routes already cached keep serving.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: 5000,
    connectTimeout: 2000,
    retryStrategy: (attempt: number) => Math.min(50 * 2 ** Math.min(attempt, 10), 1000),
  };
  const client = await createRedisClient(topology, { ...clientOptions, connectionName: "wasmgate-state" });
  let healthy = true;
  const failed = (err: Error) => {
    if (!healthy) return;
    healthy = false;
    logger?.warn(
      { err },
      "state redis connection failed; uncached lookups and admin calls fail until it reconnects",
    );
  };
  client.on("error", failed);
  // A cluster tells of each node it cannot reach as a "node error" (a plain client never emits it).
  client.on("node error", failed);
  client.on("ready", () => {
    healthy = true;
  });
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  const reached = await waitReady(client, connectTimeoutMs, options.startWithoutRedis === true);
  if (!reached) logger?.warn({}, "state redis cannot be reached; starting without it, and it is retried");
  client.defineCommand("wasmgateCommit", { numberOfKeys: 2, lua: COMMIT });
  const commitScript = (plan: string) =>
    (
      client as unknown as { wasmgateCommit(a: string, b: string, c: string): Promise<[string, string]> }
    ).wasmgateCommit(K.version, K.channel, plan);

  let lastSeen = 0;
  const listeners = new Set<() => void>();
  /** Notes a version; tells the listeners when someone else made it (or made one before it). */
  function noteVersion(version: number, own: boolean) {
    if (version <= lastSeen) return;
    const gap = version - lastSeen;
    lastSeen = version;
    if (!own || gap > 1) for (const listener of listeners) listener();
  }

  // Changes made by other gateways: pub/sub for speed, the poll (below) for certainty. The
  // subscription is in place before the version is read, so that no change made after the read
  // waits for the poll. On a cluster, ioredis subscribes through one node it picks (another if
  // that one fails); a publish reaches every node over the cluster bus.
  const subscriber = await createRedisClient(topology, {
    ...clientOptions,
    enableOfflineQueue: true,
    connectionName: "wasmgate-state-sub",
  });
  subscriber.on("error", () => {});
  subscriber.on("node error", () => {});
  subscriber.on("message", (_channel: string, message: string) => noteVersion(Number(message), false));
  const subscribed = subscriber.subscribe(K.channel).catch(() => {});
  // Started without Redis: the subscription and the poll catch up once it is there.
  if (reached) {
    try {
      // A subscription that is slow to start (or fails) is not fatal: the poll covers until it is in place.
      await Promise.race([subscribed, sleep(connectTimeoutMs, undefined, { ref: false })]);
      lastSeen = Math.max(lastSeen, Number((await client.get(K.version)) ?? 0));
    } catch (err) {
      subscriber.disconnect();
      client.disconnect();
      throw err;
    }
  }

  async function commit(checks: Check[], ops: Op[]): Promise<Outcome | "conflict"> {
    const [status, detail] = await commitScript(JSON.stringify({ checks, ops }));
    if (status === "ok") {
      noteVersion(Number(detail), true);
      return { ok: true };
    }
    if (status === "conflict") return "conflict";
    return { ok: false, reason: status as "taken" | "full" | "exists", key: detail };
  }

  /** Reads, plans and commits until nothing it read changed meanwhile. */
  async function transact<T>(
    plan: () => Promise<Plan<T>>,
    refused: (outcome: Extract<Outcome, { ok: false }>) => Error | Promise<Error>,
  ): Promise<T> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const next = await plan();
      if (next.checks === undefined) return next.result;
      const outcome = await commit(next.checks, next.ops);
      if (outcome === "conflict") continue;
      if (!outcome.ok) throw await refused(outcome);
      return next.result;
    }
    throw new GatewayError(
      "ERR_STATE_UNAVAILABLE",
      "the state changed too often to apply this change; try again",
    );
  }

  const noRefusal = (outcome: Extract<Outcome, { ok: false }>) =>
    new GatewayError("ERR_INTERNAL", `unexpected state refusal ${outcome.reason} on ${outcome.key}`);

  async function readJson<T>(key: string): Promise<{ raw: string | null; value: T | undefined }> {
    const raw = await client.get(key);
    return { raw, value: raw === null ? undefined : (JSON.parse(raw) as T) };
  }

  async function readMany<T>(keys: string[]): Promise<T[]> {
    if (keys.length === 0) return [];
    const out: T[] = [];
    // Bounded batches keep one MGET from blocking Redis with a huge reply.
    for (let i = 0; i < keys.length; i += 500) {
      for (const raw of await client.mget(keys.slice(i, i + 500)))
        if (raw !== null) out.push(JSON.parse(raw) as T);
    }
    return out;
  }

  const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const byNameAndTenant = (a: AppRecord, b: AppRecord) =>
    byName(a, b) || (a.tenant < b.tenant ? -1 : a.tenant > b.tenant ? 1 : 0);
  const newestFirst = <T extends { createdAt: string; id: string }>(a: T, b: T) =>
    a.createdAt === b.createdAt ? (a.id < b.id ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1;

  /** Updates the app record (must exist) alongside other ops. */
  async function withApp<T>(
    ref: AppRef,
    change: (app: AppRecord, raw: string) => Promise<Plan<T>> | Plan<T>,
    refused: (outcome: Extract<Outcome, { ok: false }>) => Error = noRefusal,
  ): Promise<T> {
    return transact(async () => {
      const { raw, value: app } = await readJson<AppRecord>(K.app(ref));
      if (!app || raw === null) {
        throw new GatewayError("ERR_APP_NOT_FOUND", `there is no app named ${ref.name}`);
      }
      return change(app, raw);
    }, refused);
  }

  /**
   * Sets `name` in one of an app's two config hashes (variables or sealed secrets): refused when the
   * other hash holds the name, or when the hash is full and the name is new.
   */
  async function putConfigEntry(
    app: AppRef,
    kind: "vars" | "secrets",
    name: string,
    value: string,
    maxCount: number,
    at = new Date().toISOString(),
  ): Promise<void> {
    const [own, other] = kind === "vars" ? [K.vars(app), K.secrets(app)] : [K.secrets(app), K.vars(app)];
    await withApp(
      app,
      (record, raw) => {
        const touch = touched(record, raw, at);
        return {
          checks: [
            ...touch.checks,
            { t: "hnot", k: other, f: name },
            { t: "room", k: own, f: name, n: maxCount },
          ],
          ops: [touch.op, { t: "hset", k: own, f: name, v: value }],
          result: undefined,
        };
      },
      (outcome) =>
        outcome.reason === "exists"
          ? configNameTaken(app.name, name, kind === "vars" ? "a secret" : "a variable")
          : new GatewayError(
              "ERR_VALIDATION",
              `an app has at most ${maxCount} ${kind === "vars" ? "variables" : "secrets"}`,
            ),
    );
  }

  /** Removes `name` from a config hash; whether it was there. */
  function deleteConfigEntry(key: string, name: string): Promise<boolean> {
    return transact(async () => {
      if (!(await client.hexists(key, name))) return { result: false };
      return { checks: [], ops: [{ t: "hdel", k: key, f: name }], result: true };
    }, noRefusal);
  }

  function touched(app: AppRecord, raw: string, at: string): { checks: Check[]; op: Op } {
    return {
      checks: [{ t: "eq", k: K.app(app), v: raw }],
      op: { t: "set", k: K.app(app), v: JSON.stringify({ ...app, updatedAt: at }) },
    };
  }

  /** Records written before a field existed lack it: they read as its empty value. */
  const tenantOf = (t: TenantRecord): TenantRecord => ({
    ...t,
    allowPrivateNetwork: t.allowPrivateNetwork ?? [],
  });

  const store: RedisStateStore = {
    async getTenant(name) {
      const { value } = await readJson<TenantRecord>(K.tenant(name));
      return value && tenantOf(value);
    },
    async listTenants() {
      const names = await client.smembers(K.tenants);
      return (await readMany<TenantRecord>(names.map(K.tenant))).map(tenantOf).sort(byName);
    },
    async putTenant(name, { hostnames, quotas, jwks, allowPrivateNetwork }) {
      return transact(async () => {
        const { raw, value: stored } = await readJson<TenantRecord>(K.tenant(name));
        const current = stored && tenantOf(stored);
        const now = new Date().toISOString();
        const nextJwks = jwks === null ? undefined : (jwks ?? current?.jwks);
        const tenant: TenantRecord = {
          name,
          hostnames: hostnames ?? current?.hostnames ?? [],
          quotas: quotas ?? current?.quotas ?? {},
          jwks: nextJwks,
          allowPrivateNetwork: allowPrivateNetwork ?? current?.allowPrivateNetwork ?? [],
          createdAt: current?.createdAt ?? now,
          updatedAt: now,
        };
        return {
          checks: [{ t: "eq", k: K.tenant(name), v: raw }],
          ops: [
            { t: "set", k: K.tenant(name), v: JSON.stringify(tenant) },
            { t: "sadd", k: K.tenants, m: name },
          ],
          result: { tenant, created: !current },
        };
      }, noRefusal);
    },
    async deleteTenant(name) {
      return transact(
        async () => {
          const { raw } = await readJson<TenantRecord>(K.tenant(name));
          if (raw === null) return { result: false };
          const at = new Date().toISOString();
          const checks: Check[] = [
            { t: "eq", k: K.tenant(name), v: raw },
            { t: "scardLt", k: K.tenantApps(name), n: 1 },
          ];
          const ops: Op[] = [
            { t: "del", k: K.tenant(name) },
            { t: "srem", k: K.tenants, m: name },
          ];
          for (const id of await client.smembers(K.tokens)) {
            const token = await readJson<TokenRecord>(K.token(id));
            if (token.value?.tenant !== name || token.value.revokedAt) continue;
            checks.push({ t: "eq", k: K.token(id), v: token.raw });
            ops.push({ t: "set", k: K.token(id), v: JSON.stringify({ ...token.value, revokedAt: at }) });
          }
          return { checks, ops, result: true };
        },
        () => tenantHasApps(name),
      );
    },
    async addToken(token) {
      await transact(
        async () => ({
          checks: [{ t: "eq", k: K.token(token.id), v: null }],
          ops: [
            { t: "set", k: K.token(token.id), v: JSON.stringify(token) },
            { t: "sadd", k: K.tokens, m: token.id },
          ],
          result: undefined,
        }),
        noRefusal,
      );
    },
    async getToken(id) {
      return (await readJson<TokenRecord>(K.token(id))).value;
    },
    async listTokens(tenant) {
      const all = await readMany<TokenRecord>((await client.smembers(K.tokens)).map(K.token));
      return all.filter((t) => tenant === undefined || t.tenant === tenant).sort(newestFirst);
    },
    async revokeToken(id, at) {
      return transact(async () => {
        const { raw, value } = await readJson<TokenRecord>(K.token(id));
        if (!value) return { result: false };
        if (value.revokedAt) return { result: true };
        return {
          checks: [{ t: "eq", k: K.token(id), v: raw }],
          ops: [{ t: "set", k: K.token(id), v: JSON.stringify({ ...value, revokedAt: at }) }],
          result: true,
        };
      }, noRefusal);
    },

    async getApp(ref) {
      return fromStoredApp((await readJson<StoredApp>(K.app(ref))).value);
    },
    async tenantsWithApp(name) {
      const suffix = `/${name}`;
      return (await client.smembers(K.apps))
        .filter((key) => key.endsWith(suffix))
        .map((key) => key.slice(0, -suffix.length))
        .sort();
    },
    async listApps(tenant) {
      const keys =
        tenant === undefined
          ? (await client.smembers(K.apps)).map(K.appByKey)
          : (await client.smembers(K.tenantApps(tenant))).map((name) => K.app({ tenant, name }));
      return (await readMany<StoredApp>(keys)).map((a) => fromStoredApp(a)!).sort(byNameAndTenant);
    },
    async putApp(ref, { maxApps, hostnames, limits, grants }) {
      const { tenant, name } = ref;
      const key = appKey(ref);
      return transact(
        async () => {
          const { raw, value: stored } = await readJson<StoredApp>(K.app(ref));
          const current = fromStoredApp(stored);
          const now = new Date().toISOString();
          const app: AppRecord = {
            name,
            tenant,
            hostnames: hostnames ? [...hostnames].sort() : (current?.hostnames ?? []),
            grants: completeGrants({ ...current?.grants, ...grants }),
            limits: limits ?? current?.limits ?? {},
            activeDeployment: current?.activeDeployment,
            createdAt: current?.createdAt ?? now,
            updatedAt: now,
          };
          const checks: Check[] = [{ t: "eq", k: K.app(ref), v: raw }];
          if (!current && maxApps !== undefined)
            checks.push({ t: "scardLt", k: K.tenantApps(tenant), n: maxApps });
          const ops: Op[] = [
            { t: "set", k: K.app(ref), v: JSON.stringify(toStoredApp(app)) },
            { t: "sadd", k: K.apps, m: key },
            { t: "sadd", k: K.tenantApps(tenant), m: name },
          ];
          if (hostnames) {
            for (const pattern of app.hostnames) {
              checks.push({ t: "free", k: K.host(pattern), v: key });
              ops.push({ t: "set", k: K.host(pattern), v: key });
            }
            for (const pattern of current?.hostnames ?? []) {
              if (!app.hostnames.includes(pattern)) ops.push({ t: "del", k: K.host(pattern) });
            }
          }
          return { checks, ops, result: { app, created: !current } };
        },
        // A refused hostname is worded by whose it is, read after the refusal.
        async (outcome) =>
          outcome.reason === "taken"
            ? hostnameTaken(
                outcome.key.slice(K.host("").length),
                parseAppKey(await client.get(outcome.key)),
                ref,
              )
            : quotaExceeded(tenant, maxApps ?? 0),
      );
    },
    async deleteApp(ref) {
      return transact(async () => {
        const { raw, value: stored } = await readJson<StoredApp>(K.app(ref));
        const app = fromStoredApp(stored);
        if (!app) return { result: undefined };
        const ops: Op[] = [
          { t: "del", k: K.app(ref) },
          { t: "srem", k: K.apps, m: appKey(ref) },
          { t: "srem", k: K.tenantApps(ref.tenant), m: ref.name },
          { t: "del", k: K.vars(ref) },
          { t: "del", k: K.secrets(ref) },
          { t: "del", k: K.deps(ref) },
        ];
        for (const pattern of app.hostnames) ops.push({ t: "del", k: K.host(pattern) });
        for (const id of await client.lrange(K.deps(ref), 0, -1)) ops.push({ t: "del", k: K.dep(id) });
        return { checks: [{ t: "eq", k: K.app(ref), v: raw }], ops, result: app };
      }, noRefusal);
    },
    async routeFor(pattern) {
      const ref = parseAppKey(await client.get(K.host(pattern)));
      if (ref === undefined) return undefined;
      const app = await store.getApp(ref);
      if (!app) return undefined;
      const deployment = app.activeDeployment
        ? await store.getDeployment(app, app.activeDeployment)
        : undefined;
      const tenant = app.tenant === DEFAULT_TENANT ? undefined : await store.getTenant(app.tenant);
      return {
        app: app.name,
        tenant: app.tenant,
        grants: app.grants,
        allowPrivateNetwork: tenant?.allowPrivateNetwork ?? [],
        pattern,
        limits: app.limits,
        deployment,
      };
    },

    async listVars(app) {
      const all = await client.hgetall(K.vars(app));
      return Object.entries(all).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    },
    async setVar(app, name, value, maxCount) {
      await putConfigEntry(app, "vars", name, value, maxCount);
    },
    deleteVar: (app, name) => deleteConfigEntry(K.vars(app), name),
    async listSecrets(app) {
      const all = await client.hgetall(K.secrets(app));
      return Object.entries(all)
        .map(([name, json]) => ({ name, ...(JSON.parse(json) as { sealed: string; updatedAt: string }) }))
        .sort(byName);
    },
    async putSecret(app, name, sealed, maxCount) {
      const updatedAt = new Date().toISOString();
      await putConfigEntry(app, "secrets", name, JSON.stringify({ sealed, updatedAt }), maxCount, updatedAt);
      return { name, updatedAt };
    },
    deleteSecret: (app, name) => deleteConfigEntry(K.secrets(app), name),

    async hasArtifact(digest) {
      return (await client.exists(K.artifact(digest))) === 1;
    },
    async putArtifact(digest, bytes) {
      // Content-addressed: the same bytes are stored once, whoever pushes them.
      await client.set(
        K.artifact(digest),
        Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
        "NX",
      );
    },
    async getArtifact(digest) {
      const bytes = await client.getBuffer(K.artifact(digest));
      return bytes === null ? undefined : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
    async addDeployment(d) {
      const ref = { tenant: d.tenant, name: d.app };
      await withApp(ref, async (app, raw) => {
        const ids = [d.id, ...(await client.lrange(K.deps(ref), 0, -1))];
        const ops: Op[] = [
          { t: "set", k: K.dep(d.id), v: JSON.stringify(d) },
          { t: "lpush", k: K.deps(ref), v: d.id },
          { t: "ltrim", k: K.deps(ref), n: DEPLOYMENTS_RETAINED },
          {
            t: "set",
            k: K.app(ref),
            v: JSON.stringify({ ...app, activeDeployment: d.id, updatedAt: d.createdAt }),
          },
        ];
        for (const old of ids.slice(DEPLOYMENTS_RETAINED)) ops.push({ t: "del", k: K.dep(old) });
        // Every change to an app's deployment list also rewrites the app, so this check orders them.
        return { checks: [{ t: "eq", k: K.app(ref), v: raw }], ops, result: undefined };
      });
    },
    async getDeployment(app, id) {
      const { value } = await readJson<DeploymentRecord>(K.dep(id));
      return value?.app === app.name && value.tenant === app.tenant ? value : undefined;
    },
    async listDeployments(app, limit) {
      const ids = await client.lrange(K.deps(app), 0, Math.max(limit, 1) - 1);
      return readMany<DeploymentRecord>(ids.map(K.dep));
    },
    async version() {
      return Number((await client.get(K.version)) ?? 0);
    },
    onExternalChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    // Fails where a PING would not: a cluster not `ok`, a master Sentinel no longer names.
    ping: () => redisHealth(client),
    sharedPrepared: {
      async get(digest, format) {
        const all = await client.hgetallBuffer(K.prepared(format, digest));
        const names = Object.keys(all);
        if (names.length === 0) return undefined;
        const files: Record<string, Uint8Array> = {};
        for (const name of names) files[name] = new Uint8Array(all[name]!);
        return files;
      },
      async has(digest, format) {
        return (await client.exists(K.prepared(format, digest))) === 1;
      },
      async put(digest, format, files) {
        // One HSET: a reader sees all the files or none.
        await client.hset(
          K.prepared(format, digest),
          Object.fromEntries(Object.entries(files).map(([n, d]) => [n, Buffer.from(d)])),
        );
      },
    },
    async sharedKey(name, create) {
      const key = K.key(name);
      const existing = await client.get(key);
      if (existing !== null) return existing;
      await client.set(key, await create(), "NX");
      return (await client.get(key))!;
    },
    async close() {
      clearInterval(poll);
      subscriber.disconnect();
      await client.quit().catch(() => {});
      // Also after a QUIT: a Sentinel client keeps its connections to the sentinels (ioredis's
      // failover detector) until it is disconnected.
      client.disconnect();
    },
  };

  const poll = setInterval(() => {
    client.get(K.version).then(
      (v) => noteVersion(Number(v ?? 0), false),
      () => {},
    );
  }, options.pollMs ?? DEFAULT_POLL_MS);
  poll.unref();

  // Apps from before app names were per tenant are moved once under their tenant's key; then
  // records from before a grant existed are rewritten once as the grant reads them (every read
  // already does): apps from before buckets were an app's own keep theirs as tenant-level shares.
  if (reached) {
    const moved = await keyAppsByTenant().catch((err: unknown) => {
      logger?.warn({ err }, "could not move older app records under their tenants; they are not served");
      return 0;
    });
    if (moved > 0) logger?.info({ apps: moved }, "app records moved under their tenants");
    const upgraded = await upgradeApps().catch((err: unknown) => {
      logger?.warn({ err }, "could not rewrite older app records; they are read as upgraded meanwhile");
      return 0;
    });
    if (upgraded > 0) logger?.info({ apps: upgraded }, "app records upgraded to the current grants");
  }

  /**
   * Moves each app recorded by name alone (a member of `apps` without a `/`) under
   * `<tenant>/<name>`: its record, deployment list, variables and secrets are renamed, its
   * hostnames point at the new key and its deployments get the tenant. Each app is one checked
   * commit, so gateways starting together move each app once.
   */
  async function keyAppsByTenant(): Promise<number> {
    const legacy = (await client.smembers(K.apps)).filter((member) => !member.includes("/"));
    let n = 0;
    for (const name of legacy) {
      const moved = await transact(async () => {
        const { raw, value } = await readJson<StoredApp>(K.legacy("app", name));
        if (raw === null || !value) {
          if (!(await client.sismember(K.apps, name))) return { result: false };
          return { checks: [], ops: [{ t: "srem", k: K.apps, m: name }], result: false };
        }
        const ref = { tenant: (value.tenant as string | undefined) ?? DEFAULT_TENANT, name };
        const checks: Check[] = [
          { t: "eq", k: K.legacy("app", name), v: raw },
          { t: "eq", k: K.app(ref), v: null },
        ];
        const ops: Op[] = [
          { t: "set", k: K.app(ref), v: JSON.stringify({ ...value, tenant: ref.tenant }) },
          { t: "del", k: K.legacy("app", name) },
          { t: "srem", k: K.apps, m: name },
          { t: "sadd", k: K.apps, m: appKey(ref) },
          { t: "sadd", k: K.tenantApps(ref.tenant), m: name },
          { t: "rename", k: K.legacy("deps", name), to: K.deps(ref) },
          { t: "rename", k: K.legacy("vars", name), to: K.vars(ref) },
          { t: "rename", k: K.legacy("secrets", name), to: K.secrets(ref) },
        ];
        for (const pattern of (value.hostnames as string[] | undefined) ?? []) {
          if ((await client.get(K.host(pattern))) !== name) continue;
          checks.push({ t: "eq", k: K.host(pattern), v: name });
          ops.push({ t: "set", k: K.host(pattern), v: appKey(ref) });
        }
        for (const id of await client.lrange(K.legacy("deps", name), 0, -1)) {
          const dep = await readJson<DeploymentRecord>(K.dep(id));
          if (!dep.value || dep.value.tenant !== undefined) continue;
          checks.push({ t: "eq", k: K.dep(id), v: dep.raw });
          ops.push({ t: "set", k: K.dep(id), v: JSON.stringify({ ...dep.value, tenant: ref.tenant }) });
        }
        return { checks, ops, result: true };
      }, noRefusal);
      if (moved) n++;
    }
    return n;
  }

  async function upgradeApps(): Promise<number> {
    // One batched read finds the old records; only those are read again and rewritten, each in
    // its own checked commit (another gateway may be rewriting or changing them too).
    const all = await readMany<StoredApp>((await client.smembers(K.apps)).map(K.appByKey));
    let n = 0;
    for (const app of all.filter((a) => upgradeGrants(a) !== undefined)) {
      const ref = { tenant: app.tenant, name: app.name };
      const changed = await transact(async () => {
        const { raw, value } = await readJson<StoredApp>(K.app(ref));
        const fields = value && upgradeGrants(value);
        if (!value || !fields) return { result: false };
        return {
          checks: [{ t: "eq", k: K.app(ref), v: raw }],
          ops: [{ t: "set", k: K.app(ref), v: JSON.stringify({ ...value, ...fields }) }],
          result: true,
        };
      }, noRefusal);
      if (changed) n++;
    }
    return n;
  }

  return unavailableOnFailure(store);
}

/** The app a stored app key (`<tenant>/<name>`) names; undefined for none. */
function parseAppKey(key: string | null): AppRef | undefined {
  const slash = key?.indexOf("/") ?? -1;
  // A name alone is what an older gateway wrote; whose tenant's app it means is not known here.
  if (key === null || slash < 0) return undefined;
  return { tenant: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** Redis failures become 503 ERR_STATE_UNAVAILABLE; our own refusals pass through. */
function unavailableOnFailure<T extends object>(store: T): T {
  for (const [name, fn] of Object.entries(store)) {
    if (name === "sharedPrepared") {
      (store as Record<string, unknown>)[name] = unavailableOnFailure({ ...(fn as object) });
      continue;
    }
    if (typeof fn !== "function" || name === "onExternalChange") continue;
    (store as Record<string, unknown>)[name] = async (...args: unknown[]) => {
      try {
        return await (fn as (...a: unknown[]) => Promise<unknown>)(...args);
      } catch (err) {
        if (err instanceof GatewayError) throw err;
        throw new GatewayError(
          "ERR_STATE_UNAVAILABLE",
          `the state store (Redis) failed: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
    };
  }
  return store;
}

/** Whether the client became ready within `timeoutMs`; past it, throws unless `keepTrying`. */
async function waitReady(client: RedisClient, timeoutMs: number, keepTrying = false): Promise<boolean> {
  if (client.status === "ready") return true;
  return await new Promise<boolean>((resolve, reject) => {
    const timer = setTimeout(() => {
      if (keepTrying) return resolve(false);
      client.disconnect();
      reject(new Error(`could not reach Redis within ${timeoutMs} ms`));
    }, timeoutMs);
    client.once("ready", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}
