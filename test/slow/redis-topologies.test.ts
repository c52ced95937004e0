// Redis Cluster and Sentinel with real servers (test/harness/redis-topologies.ts): the key-value
// store across many slots of a three-master cluster, the state store's change feed through the
// cluster's pub/sub, gateways whose workers use the cluster, and a gateway riding out a Sentinel
// failover without losing an acknowledged write. The conformance suites run on both topologies
// too (kv/conformance.test.ts, gateway/state/conformance.test.ts).

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createRedisStateStore } from "../../gateway/state/redis.ts";
import {
  createRedisKvStore,
  type KvNamespace,
  type KvStore,
  type RedisNode,
  type RedisTopology,
} from "../../kv/index.ts";
import { buildGuest } from "../../scripts/guests.ts";
import { type GatewayProcess, get, push, runCli, startGateway } from "../harness/gateway.ts";
import type { RedisServer } from "../harness/redis-server.ts";
import {
  type RedisCluster,
  type RedisSentinelSet,
  redisCommand,
  startRedisCluster,
  startRedisSentinel,
} from "../harness/redis-topologies.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (value: Uint8Array | undefined) =>
  value === undefined ? undefined : new TextDecoder().decode(value);

async function readyz(gw: GatewayProcess): Promise<{ status: number; body: any }> {
  const res = await fetch(`${gw.adminUrl}/readyz`);
  return { status: res.status, body: await res.json() };
}

/** Polls `probe` until it returns a value other than undefined, or fails after `ms`. */
async function eventually<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} within ${ms} ms`);
    await sleep(50);
  }
}

describe("Redis Cluster", () => {
  let cluster: RedisCluster;
  let nodes: RedisNode[];
  let topology: RedisTopology;
  before(async () => {
    cluster = await startRedisCluster(3);
    nodes = cluster.nodes.map((node) => ({ host: "127.0.0.1", port: node.port }));
    topology = { kind: "cluster", nodes };
  });
  after(() => cluster?.destroy());

  it("keeps each of 200 buckets' multi-key calls and scripts in one slot, the buckets spread over every master", async () => {
    // One seed node is enough: the client learns the others from it.
    const store: KvStore = createRedisKvStore({ topology: { kind: "cluster", nodes: [nodes[0]!] } });
    try {
      assert.deepEqual(await store.ping(), {
        backend: "redis",
        topology: "cluster",
        clusterState: "ok",
        masters: 3,
        slotsOk: 16384,
        knownNodes: 3,
      });
      const buckets: KvNamespace[] = Array.from({ length: 200 }, (_, index) => ({
        tenant: `t${index % 7}`,
        bucket: `b${index}`,
      }));
      await Promise.all(
        buckets.map(async (ns, index) => {
          // A transaction (MULTI: MSET and DEL of the metadata), a script over two keys, MGET.
          await store.setMany(ns, [
            ["a", bytes(`a${index}`)],
            ["b", bytes(`b${index}`)],
          ]);
          await store.set(ns, "meta", bytes("v"), { metadata: `m${index}`, ttlSeconds: 600 });
          assert.deepEqual((await store.getMany(ns, ["a", "b", "none"])).map(text), [
            `a${index}`,
            `b${index}`,
            undefined,
          ]);
          assert.deepEqual(await store.getWithMetadata(ns, "meta"), {
            value: bytes("v"),
            metadata: `m${index}`,
          });
          assert.equal(await store.compareAndSwap(ns, "a", bytes(`a${index}`), bytes("swapped")), true);
          assert.equal(await store.increment(ns, "n", BigInt(index)), BigInt(index));
          assert.deepEqual((await store.listKeys(ns)).keys.sort(), ["a", "b", "meta", "n"]);
        }),
      );
      // Every master holds some buckets: the keys really span slots (and nodes).
      const sizes = await Promise.all(
        cluster.nodes.map(async (node) => Number(await redisCommand(node.port, "DBSIZE"))),
      );
      assert.equal(
        sizes.reduce((a, b) => a + b, 0),
        buckets.length * 5,
        `keys per node ${sizes}`,
      );
      assert.ok(
        sizes.every((size) => size > 0),
        `keys per node ${sizes}`,
      );
      // A bucket's keys share one slot, whatever the user key holds (braces included).
      const slots = new Set<string>();
      for (const key of ["{t:t0:b0}v:a", "{t:t0:b0}m:meta", "{t:t0:b0}v:}{x}"]) {
        slots.add((await redisCommand(cluster.nodes[0]!.port, "CLUSTER", "KEYSLOT", key)).trim());
      }
      assert.equal(slots.size, 1);
      await Promise.all(buckets.map((ns) => store.deleteBucket(ns)));
      const left = await Promise.all(
        cluster.nodes.map(async (node) => Number(await redisCommand(node.port, "DBSIZE"))),
      );
      assert.deepEqual(left, [0, 0, 0]);
    } finally {
      await store.close();
    }
  });

  it("carries the state store's change feed between stores through the cluster's pub/sub alone", async () => {
    // No version poll: only a published message can tell the other store.
    const quiet = 3_600_000;
    const one = await createRedisStateStore({ topology, pollMs: quiet });
    const two = await createRedisStateStore({
      topology: { kind: "cluster", nodes: [nodes[2]!] },
      pollMs: quiet,
    });
    try {
      const heard = (store: typeof one) =>
        new Promise<number>((resolve) => {
          const started = performance.now();
          const stop = store.onExternalChange(() => {
            stop();
            resolve(performance.now() - started);
          });
        });
      const onTwo = heard(two);
      await one.putApp({ tenant: "default", name: "feed-a" }, { hostnames: ["feed-a.example.com"] });
      const msTwo = await Promise.race([onTwo, sleep(5000, -1)]);
      assert.ok(msTwo >= 0, "the second store never heard the change");
      assert.equal((await two.routeFor("feed-a.example.com"))?.app, "feed-a");
      // Its own change is not news to it, and the other way round works as well.
      const onOne = heard(one);
      await two.putApp({ tenant: "default", name: "feed-b" }, {});
      const msOne = await Promise.race([onOne, sleep(5000, -1)]);
      assert.ok(msOne >= 0, "the first store never heard the change");
      assert.equal(await one.version(), await two.version());
      assert.deepEqual(await one.ping(), await two.ping());
      assert.equal((await one.ping()).clusterState, "ok");
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });

  it("two gateways on the cluster: a push on one serves on the other, its workers' KV on the cluster", async () => {
    const counter = await buildGuest("example", "counter");
    const [one, two] = await Promise.all(
      cluster.nodes
        .slice(0, 2)
        .map((node) =>
          startGateway({ args: ["--workers", "1", "--redis-cluster", `127.0.0.1:${node.port}`] }),
        ),
    );
    try {
      await push(one!, counter, "cluster-counter", ["--host", "counter.cluster.localhost"]);
      const first = await eventually("the other gateway serving the push", 10_000, async () => {
        const res = await get(two!, "counter.cluster.localhost", "/hits");
        return res.status === 200 ? res.text : undefined;
      });
      assert.equal(first, "/hits has been visited 1 time\n");
      assert.equal(
        (await get(one!, "counter.cluster.localhost", "/hits")).text,
        "/hits has been visited 2 times\n",
      );
      const read = await runCli(
        ["kv", "get", "visits:/hits", "--app", "cluster-counter", "--gateway", two!.adminUrl],
        {
          WASMGATE_TOKEN: two!.token,
        },
      );
      assert.equal(read.stdout, "2", read.stderr);
      const { status, body } = await readyz(two!);
      assert.equal(status, 200);
      for (const check of [body.checks.state, body.checks.kv]) {
        assert.equal(check.topology, "cluster");
        assert.equal(check.clusterState, "ok");
        assert.equal(check.masters, 3);
      }
    } finally {
      await Promise.all([one?.dispose(), two?.dispose()]);
    }
  });
  // Last: it takes a master away.
  it("is not ready while a master does not answer, and ready again once it is back", async () => {
    const store = createRedisKvStore({ topology });
    const state = await createRedisStateStore({ topology });
    try {
      assert.equal((await store.ping()).clusterState, "ok");
      await cluster.nodes[1]!.stop();
      const started = performance.now();
      await assert.rejects(store.ping(), { code: "ERR_KV_UNAVAILABLE" });
      await assert.rejects(state.ping(), { code: "ERR_STATE_UNAVAILABLE" });
      assert.ok(performance.now() - started < 2500, "the checks failed within the op timeouts");
      await cluster.nodes[1]!.restart();
      const health = await eventually("the cluster's health back", 15_000, () => store.ping());
      assert.equal(health.clusterState, "ok");
      assert.equal(health.masters, 3);
      await eventually("the state store's health back", 15_000, () => state.ping());
    } finally {
      await Promise.all([store.close(), state.close()]);
    }
  });
});

/** One client incrementing the counter back to back until stopped; each 200 is an acknowledged increment. */
function incrementing(gw: GatewayProcess) {
  const acked: { count: number; at: number }[] = [];
  const failed: { ms: number; at: number }[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      const res = await get(gw, "counter.localhost", "/hits");
      const at = performance.now();
      if (res.status === 200) acked.push({ count: Number(/visited (\d+) time/.exec(res.text)?.[1]), at });
      else {
        assert.equal(res.status, 503, res.text);
        assert.match(res.text, /ERR_KV_(UNAVAILABLE|TIMEOUT)/);
        failed.push({ ms: at - started, at });
        await sleep(20);
      }
    }
  })();
  return {
    acked,
    failed,
    /** The first acknowledged increment after `since` that no failure followed. */
    backAfter: (since: number) =>
      eventually("an acknowledged increment after the switch", 10_000, async () =>
        acked.find((a) => a.at > since && a.at > (failed.at(-1)?.at ?? 0)),
      ),
    /** Waits for `n` more acknowledged increments after `at`, then stops. */
    async stopAfter(at: number, n: number) {
      await eventually(`${n} more acknowledged increments`, 10_000, async () =>
        acked.filter((a) => a.at > at).length >= n ? true : undefined,
      );
      running = false;
      await loop;
    },
    /** Stops, whatever the loop met (for a test that failed half-way). */
    async stop() {
      running = false;
      await loop.catch(() => {});
    },
    /** Acknowledged counts that were not above the one before: increments that were lost. */
    lost: () => acked.filter((a, i) => i > 0 && a.count <= acked[i - 1]!.count).length,
  };
}

describe("Redis Sentinel", () => {
  let set: RedisSentinelSet;
  let gw: GatewayProcess;
  before(async () => {
    set = await startRedisSentinel();
    const [counter, hello] = await Promise.all([
      buildGuest("example", "counter"),
      buildGuest("example", "hello-fast"),
    ]);
    gw = await startGateway({
      args: ["--workers", "1", "--redis-sentinels", set.sentinelList, "--redis-master-name", set.masterName],
    });
    await push(gw, counter, "counter", ["--host", "counter.localhost"]);
    await push(gw, hello, "hello", ["--host", "hello.localhost"]);
  });
  after(async () => {
    await gw?.dispose();
    await set?.destroy();
  });

  const storedCount = async () => {
    const read = await runCli(["kv", "get", "visits:/hits", "--app", "counter", "--gateway", gw.adminUrl], {
      WASMGATE_TOKEN: gw.token,
    });
    assert.equal(read.code, 0, read.stderr);
    return Number(read.stdout);
  };
  const readyOn = (port: number) =>
    eventually(`ready on the master at ${port}`, 10_000, async () => {
      const res = await readyz(gw);
      const at = `127.0.0.1:${port}`;
      return res.status === 200 && res.body.checks.kv.master === at && res.body.checks.state.master === at
        ? res.body
        : undefined;
    });

  it("rides out a failover: other apps keep serving, KV comes back on the promoted replica, no acknowledged write lost", async (t) => {
    const { body } = await readyz(gw);
    assert.equal(body.ready, true);
    for (const check of [body.checks.state, body.checks.kv]) {
      assert.deepEqual(check, {
        ok: true,
        backend: "redis",
        topology: "sentinel",
        masterName: set.masterName,
        master: `127.0.0.1:${set.master.port}`,
        replicas: 1,
      });
    }
    assert.equal((await get(gw, "hello.localhost", "/")).status, 200);

    const load = incrementing(gw);
    await eventually("50 acknowledged increments", 20_000, async () =>
      load.acked.length >= 50 ? true : undefined,
    );
    await set.master.kill();
    const killed = performance.now();
    const down = await eventually("not ready without a master", 5000, async () => {
      const res = await readyz(gw);
      return res.status === 503 ? res.body : undefined;
    });
    assert.equal(down.checks.kv.ok, false);
    assert.equal(down.checks.state.ok, false);
    // Hosts already resolved keep serving while Redis (state included) has no master.
    for (let i = 0; i < 10; i++) {
      assert.equal((await get(gw, "hello.localhost", `/during-${i}`)).status, 200);
      await sleep(50);
    }
    const promoted = await set.waitForFailover();
    const promotedAt = performance.now();
    assert.equal(promoted, set.replicas[0]);
    const back = await load.backAfter(killed);
    await load.stopAfter(back.at, 20);

    // Had an acknowledged increment been lost with the old master, the promoted replica would
    // hand out its count again.
    const { acked, failed } = load;
    t.diagnostic(
      `failover: ${acked.filter((a) => a.at < killed).length} acknowledged before the kill, ` +
        `${failed.length} KV requests failed meanwhile (slowest ${Math.round(Math.max(0, ...failed.map((f) => f.ms)))} ms), ` +
        `promotion seen ${Math.round(promotedAt - killed)} ms after the kill, ` +
        `KV back ${Math.round(back.at - killed)} ms after it; acknowledged increments lost: ${load.lost()}`,
    );
    assert.equal(load.lost(), 0, `counts went back: ${acked.map((a) => a.count).join(",")}`);
    assert.ok(failed.length > 0, "no KV request failed: was the master really gone?");
    // A failed call fails within the op timeout instead of hanging the guest.
    for (const f of failed) assert.ok(f.ms < 2500, `a KV request took ${Math.round(f.ms)} ms to fail`);
    assert.ok(
      back.at - promotedAt < 5000,
      `KV back ${Math.round(back.at - promotedAt)} ms after the promotion`,
    );

    // The admin API (the state store and the gateway's own KV client) is on the new master too.
    await readyOn(promoted.port);
    assert.equal(await storedCount(), acked.at(-1)!.count);
  });

  /**
   * Makes `server` a replica of the master on `masterPort` and waits until it is linked (and
   * with `caughtUp`, has everything the master wrote). The
   * sentinels would tell it the same, but only on their next look at it (up to 10 s).
   */
  async function replicating(server: RedisServer, masterPort: number, caughtUp = true): Promise<void> {
    const [role, , port] = (await redisCommand(server.port, "ROLE")).split("\n");
    if (role !== "slave" || Number(port) !== masterPort) {
      await redisCommand(server.port, "REPLICAOF", "127.0.0.1", String(masterPort));
    }
    await eventually(`${server.port} replicating ${masterPort}`, 20_000, async () => {
      const [now, , , state] = (await redisCommand(server.port, "ROLE")).split("\n");
      return now === "slave" && state === "connected" ? true : undefined;
    });
    // Under writes, the offsets are never equal for long: a live link is all there is to see.
    if (caughtUp) await set.waitForReplication(masterPort);
  }

  /**
   * Asks the sentinels to switch the master over to its replica while the guest increments, until
   * its increments land on the new master; returns how many acknowledged increments were lost.
   */
  async function switchover(t: { diagnostic(message: string): void }, label: string): Promise<number> {
    const from = await set.masterPort();
    const to = from === set.master.port ? set.replicas[0]! : set.master;
    await replicating(to, from);
    const before = await storedCount();
    const load = incrementing(gw);
    let asked = 0;
    let switched = 0;
    try {
      await eventually("20 acknowledged increments", 10_000, async () =>
        load.acked.length >= 20 ? true : undefined,
      );
      await redisCommand(set.sentinels[0]!.port, "SENTINEL", "FAILOVER", set.masterName);
      asked = performance.now();
      assert.equal(await set.waitForFailover(from), to);
      switched = performance.now();
      // The old master, a replica of the new one as the sentinels would make it on their next look:
      // with min-replicas-to-write, the new master writes only once it has a replica.
      await replicating(to === set.master ? set.replicas[0]! : set.master, to.port, false);
      await readyOn(to.port);
      // The guest's increments land on the new master once its count there keeps up with theirs.
      // The counter app's own default bucket.
      const key = "{t:default:counter%2Fdefault}v:visits:/hits";
      const caughtUp = await eventually("the guest's increments on the new master", 10_000, async () => {
        const last = load.acked.at(-1)!;
        const stored = Number(await redisCommand(to.port, "GET", key));
        return stored >= last.count && last.at > switched ? last : undefined;
      });
      await load.stopAfter(caughtUp.at, 20);
    } finally {
      await load.stop();
    }
    const { acked, failed } = load;
    // A count handed out again: the increments acknowledged since that count was first handed out
    // went to the old master after its replica's promotion and were lost when it resynced.
    const again = acked.findIndex((a, i) => i > 0 && a.count <= acked[i - 1]!.count);
    const lost = again === -1 ? 0 : acked[again - 1]!.count - acked[again]!.count + 1;
    t.diagnostic(
      `switchover ${label}: the sentinels named the new master ${Math.round(switched - asked)} ms after it was ` +
        `asked for; ${failed.length} KV requests failed; acknowledged increments lost with the old master: ${lost}`,
    );
    assert.ok(acked[0]!.count > before, "counting went on from the stored count");
    assert.equal(await storedCount(), acked.at(-1)!.count, "the store holds the last count handed out");
    return lost;
  }

  it("follows switchovers; with min-replicas-to-write 1 the old master refuses what it would lose", async (t) => {
    assert.notEqual(await set.masterPort(), set.master.port, "runs after the failover");
    // Restarted empty (no AOF), the old master comes back as a replica of the new one.
    await set.master.restart();
    // As configured by default: the sentinels promote the replica, announce it, and only then
    // demote the old master, which goes on acknowledging writes meanwhile (Redis replicates
    // asynchronously). Not asserted: how many is a matter of timing.
    await switchover(t, "by default");
    // A master that needs a replica in reach to write refuses once its replica is promoted (the
    // replica drops the link first): the guest sees ERR_KV_UNAVAILABLE for a moment instead. What
    // can still be lost is what was on the wire to the replica when it was promoted: with one
    // client incrementing one at a time, at most one increment.
    for (const server of [set.master, ...set.replicas]) {
      await redisCommand(server.port, "CONFIG", "SET", "min-replicas-to-write", "1");
    }
    const lost = await switchover(t, "with min-replicas-to-write 1");
    assert.ok(lost <= 1, `${lost} acknowledged increments lost`);
  });
});
