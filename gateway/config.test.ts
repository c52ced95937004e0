import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  CONFIG_HELP,
  ConfigError,
  createConfig,
  DEFAULT_ADMIN_HOST,
  DEFAULT_PORT,
  parseConfig,
  redisTopology,
  SETTINGS,
} from "./config.ts";

describe("parseConfig", () => {
  it("uses defaults", () => {
    const c = parseConfig([], {});
    assert.equal(c.port, DEFAULT_PORT);
    assert.equal(c.adminHost, DEFAULT_ADMIN_HOST);
    assert.equal(c.stateDir, ".wasmgate");
    assert.ok(Object.isFrozen(c));
  });
  it("lets flags win over the environment", () => {
    const c = parseConfig(["--port", "9000"], { WASMGATE_PORT: "9100", WASMGATE_ADMIN_PORT: "0" });
    assert.equal(c.port, 9000);
    assert.equal(c.adminPort, 0);
  });
  it("refuses bad values with a message naming the setting", () => {
    assert.throws(
      () => parseConfig([], { WASMGATE_PORT: "http" }),
      (e: Error) => e instanceof ConfigError && /port/.test(e.message),
    );
    assert.throws(() => parseConfig([], { WASMGATE_PORT: "70000" }), ConfigError);
    assert.throws(() => parseConfig([], { REDIS_URL: "not a url" }), ConfigError);
    assert.throws(() => parseConfig(["--bogus", "1"], {}), /bogus/);
  });
  it("shows in SETTINGS and the help the defaults the parser applies", () => {
    const defaults: Record<string, unknown> = parseConfig([], {});
    for (const s of SETTINGS) {
      const actual = defaults[s.key];
      if (s.default === undefined) assert.equal(actual, undefined, s.key);
      else if (s.key !== "workers") assert.equal(s.default.split(" ")[0], String(actual), s.key);
      assert.ok(CONFIG_HELP.includes(`--${s.flag} ${s.arg}`), `help names --${s.flag}`);
      assert.ok(CONFIG_HELP.includes(s.env), `help names ${s.env}`);
    }
  });
});

describe("where Redis is", () => {
  it("is one server by URL, a Cluster by its nodes, or Sentinel by its sentinels and master name", () => {
    assert.equal(redisTopology(parseConfig([], {})), undefined);
    assert.deepEqual(redisTopology(parseConfig([], { REDIS_URL: "redis://r:6379/2" })), {
      kind: "standalone",
      url: "redis://r:6379/2",
    });
    assert.deepEqual(redisTopology(parseConfig(["--redis-cluster", "10.0.0.1:7000, r2 ,[::1]:7002"], {})), {
      kind: "cluster",
      nodes: [
        { host: "10.0.0.1", port: 7000 },
        { host: "r2", port: 6379 },
        { host: "::1", port: 7002 },
      ],
    });
    const sentinel = parseConfig([], {
      WASMGATE_REDIS_SENTINELS: "s1:5000,s2",
      WASMGATE_REDIS_MASTER_NAME: "main",
    });
    assert.deepEqual(redisTopology(sentinel), {
      kind: "sentinel",
      sentinels: [
        { host: "s1", port: 5000 },
        { host: "s2", port: 26379 },
      ],
      masterName: "main",
    });
  });

  it("refuses two places at once, Sentinel without a master name, and malformed nodes", () => {
    assert.throws(
      () => parseConfig(["--redis-cluster", "a:1"], { REDIS_URL: "redis://r" }),
      (e: Error) =>
        e instanceof ConfigError && /--redis-url and --redis-cluster both say where Redis is/.test(e.message),
    );
    assert.throws(
      () =>
        parseConfig(["--redis-cluster", "a:1", "--redis-sentinels", "s:1", "--redis-master-name", "m"], {}),
      (e: Error) => e instanceof ConfigError && /--redis-cluster and --redis-sentinels/.test(e.message),
    );
    assert.throws(
      () => parseConfig(["--redis-sentinels", "s:1"], {}),
      (e: Error) => e instanceof ConfigError && /needs --redis-master-name/.test(e.message),
    );
    assert.throws(
      () => parseConfig(["--redis-master-name", "m"], { REDIS_URL: "redis://r" }),
      (e: Error) => e instanceof ConfigError && /only with --redis-sentinels/.test(e.message),
    );
    for (const bad of ["", "a:", "a:0", "a:70000", "redis://a:1", "a:1,,b:2", "a b:1"]) {
      assert.throws(
        () => parseConfig(["--redis-cluster", bad], {}),
        (e: Error) => e instanceof ConfigError && /redisCluster: .*is not host:port/.test(e.message),
        JSON.stringify(bad),
      );
    }
  });
});

describe("createConfig", () => {
  it("takes typed values, defaults the rest, and checks them like parseConfig", () => {
    const c = createConfig({ port: 0, workers: 1, stateDir: "/tmp/x" });
    const expected: Record<string, unknown> = {
      ...parseConfig([], {}),
      port: 0,
      workers: 1,
      stateDir: "/tmp/x",
    };
    for (const { key } of SETTINGS) assert.equal(c[key], expected[key], key);
    assert.ok(Object.isFrozen(c));
    assert.throws(() => createConfig({ port: 70_000 }), ConfigError);
    assert.throws(
      () => createConfig({ workers: 0 }),
      (e: Error) => /workers/.test(e.message),
    );
  });
});
