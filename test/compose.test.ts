// docker-compose.yml cannot be started on the test machines (no Docker engine), so this reads it and
// checks it against what the gateway actually reads: settings, ports, healthchecks, persistence.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { DEFAULT_ADMIN_PORT, DEFAULT_PORT, parseConfig, SETTINGS } from "../gateway/config.ts";
import { ROOT } from "./harness/gateway.ts";

const compose = parse(readFileSync(join(ROOT, "docker-compose.yml"), "utf8"));
const dockerfile = readFileSync(join(ROOT, "Dockerfile"), "utf8");
const gateway = compose.services.gateway;
const redis = compose.services.redis;
const env: Record<string, string> = gateway.environment;

describe("docker-compose.yml", () => {
  it("has exactly a redis and a gateway service", () => {
    assert.deepEqual(Object.keys(compose.services).sort(), ["gateway", "redis"]);
  });

  it("runs Redis with AOF persistence on a named volume, with a healthcheck", () => {
    const command: string[] = redis.command;
    assert.equal(command[command.indexOf("--appendonly") + 1], "yes");
    // The fsync policy is chosen, and the durability guide says what it keeps.
    const fsync = command[command.indexOf("--appendfsync") + 1];
    assert.ok(fsync === "everysec" || fsync === "always", `appendfsync ${fsync}`);
    const guide = readFileSync(join(ROOT, "docs/guides/tenants-and-fleets.md"), "utf8");
    assert.ok(
      guide.includes(`\`appendfsync ${fsync}\` (\`docker-compose.yml\`)`),
      "the guide names compose's setting",
    );
    assert.ok(
      redis.volumes.some(
        (v: string) => v.endsWith(":/data") && compose.volumes[v.split(":")[0]!] !== undefined,
      ),
    );
    assert.deepEqual(redis.healthcheck.test, ["CMD", "redis-cli", "ping"]);
  });

  it("sets only environment variables the gateway reads, and they parse", () => {
    const known = new Set(SETTINGS.map((s) => s.env));
    for (const name of Object.keys(env))
      assert.ok(known.has(name as never), `${name} is not a gateway setting`);
    const config = parseConfig([], env);
    assert.equal(config.host, "0.0.0.0");
    assert.equal(config.adminHost, "0.0.0.0", "the admin API must listen beyond the container's loopback");
  });

  it("points REDIS_URL at the redis service and waits for it to be healthy", () => {
    const url = new URL(env.REDIS_URL!);
    assert.equal(url.hostname, "redis");
    assert.equal(url.port, "6379");
    assert.equal(gateway.depends_on.redis.condition, "service_healthy");
  });

  it("publishes the data plane and admin ports the gateway listens on", () => {
    const config = parseConfig([], env);
    assert.equal(config.port, DEFAULT_PORT);
    assert.equal(config.adminPort, DEFAULT_ADMIN_PORT);
    const ports: string[] = gateway.ports;
    assert.ok(ports.includes(`${config.port}:${config.port}`));
    assert.ok(
      ports.includes(`127.0.0.1:${config.adminPort}:${config.adminPort}`),
      "admin API only on the host's loopback",
    );
  });

  it("keeps the state directory in a volume", () => {
    const config = parseConfig([], env);
    assert.ok(gateway.volumes.includes(`gateway-state:${config.stateDir}`));
    assert.ok("gateway-state" in compose.volumes);
  });

  it("health-checks the admin listener's /readyz (store reachable, workers up) on the configured port", () => {
    const config = parseConfig([], env);
    const test: string[] = gateway.healthcheck.test;
    assert.equal(test[0], "CMD");
    assert.ok(test.join(" ").includes(`http://127.0.0.1:${config.adminPort}/readyz`));
  });
});

describe("Dockerfile", () => {
  it("runs Node 24, installs production dependencies from the lock file and starts the gateway", () => {
    assert.match(dockerfile, /^FROM node:24[\w.-]*/m);
    assert.match(dockerfile, /npm ci --omit=dev/);
    assert.match(dockerfile, /CMD \["node", "bin\/wasmgate\.js", "serve"\]/);
    assert.match(dockerfile, /EXPOSE 8787 8788/);
    assert.match(dockerfile, /HEALTHCHECK[\s\S]*127\.0\.0\.1:8788\/readyz/);
  });
});
