import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, DEFAULT_ADMIN_HOST, DEFAULT_PORT, parseConfig } from "./config.ts";

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
});
