import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  CONFIG_HELP,
  ConfigError,
  createConfig,
  DEFAULT_ADMIN_HOST,
  DEFAULT_PORT,
  parseConfig,
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
