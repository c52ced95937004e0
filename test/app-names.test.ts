// App names are per tenant: two tenants each push an app `hello`, and each gets its own app,
// hostnames, deployments, key-value data, variables and logs; nothing tells one tenant that the
// other has an app of that name. The operator names the tenant when the name is ambiguous.
// Against a real gateway process, with deploy-cli.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { buildGuest } from "../scripts/guests.ts";
import { adminCall, type GatewayProcess, get, runCli, startGateway } from "./harness/gateway.ts";

let gw: GatewayProcess;
let fastFile: string;
let watFile: string;
const tokens: Record<string, string> = {};

before(async () => {
  fastFile = await buildGuest("example", "hello-fast");
  watFile = await buildGuest("fixture", "hello-p020");
  gw = await startGateway({ args: ["--workers", "1"] });
  for (const tenant of ["acme", "globex"]) {
    const created = await adminCall(gw, "PUT", `/v1/tenants/${tenant}`, {
      json: { hostnames: [`*.${tenant}.localhost`, "*.shared.localhost"] },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const issued = await adminCall(gw, "POST", "/v1/tokens", {
      json: { tenant, scopes: ["apps:write", "kv:write", "config:write", "logs:read"] },
    });
    assert.equal(issued.status, 201, JSON.stringify(issued.body));
    tokens[tenant] = issued.body.token;
  }
});
after(() => gw?.dispose());

/** deploy-cli with a tenant's token (or the operator's). */
const cli = (who: string, args: string[], env: Record<string, string> = {}) =>
  runCli([...args, "--gateway", gw.adminUrl], {
    WASMGATE_TOKEN: who === "operator" ? gw.token : tokens[who]!,
    ...env,
  });

const call = (who: string, method: string, path: string, options: Parameters<typeof adminCall>[3] = {}) =>
  adminCall(gw, method, path, { ...options, token: tokens[who]! });

describe("app names per tenant", () => {
  it("two tenants both push hello: each serves its own component, lists and reads only its own app", async () => {
    const acme = await cli("acme", ["push", fastFile, "--app", "hello", "--host", "hello.acme.localhost"]);
    assert.equal(acme.code, 0, acme.stderr);
    const globex = await cli("globex", [
      "push",
      watFile,
      "--app",
      "hello",
      "--host",
      "hello.globex.localhost",
    ]);
    assert.equal(globex.code, 0, globex.stderr);
    assert.doesNotMatch(globex.stderr, /another tenant|acme/);

    assert.match((await get(gw, "hello.acme.localhost")).text, /fast world/);
    assert.equal((await get(gw, "hello.globex.localhost")).text, "hello from wat");

    for (const tenant of ["acme", "globex"]) {
      const listed = await cli(tenant, ["apps", "list", "--json"]);
      assert.equal(listed.code, 0, listed.stderr);
      const apps = JSON.parse(listed.stdout).apps as { name: string; tenant: string; hostnames: string[] }[];
      assert.deepEqual(
        apps.map((a) => [a.tenant, a.name, a.hostnames]),
        [[tenant, "hello", [`hello.${tenant}.localhost`]]],
      );
      const deployments = await call(tenant, "GET", "/v1/apps/hello/deployments");
      assert.equal(deployments.body.deployments.length, 1, "its own deployment only");
    }
    const acmeDigest = (await call("acme", "GET", "/v1/apps/hello/deployments")).body.deployments[0].digest;
    const globexDigest = (await call("globex", "GET", "/v1/apps/hello/deployments")).body.deployments[0]
      .digest;
    assert.notEqual(acmeDigest, globexDigest);

    // Key-value data and variables are each app's own.
    const put = await call("acme", "PUT", "/v1/apps/hello/kv/default/value?key=k", {
      body: new TextEncoder().encode("acme's"),
      contentType: "application/octet-stream",
    });
    assert.equal(put.status, 204);
    const unseen = await call("globex", "GET", "/v1/apps/hello/kv/default/value?key=k");
    assert.equal(unseen.status, 404);
    assert.equal(unseen.body.error.code, "ERR_KV_KEY_NOT_FOUND");
    await call("globex", "PUT", "/v1/apps/hello/kv/default/value?key=k", {
      body: new TextEncoder().encode("globex's"),
      contentType: "application/octet-stream",
    });
    assert.equal((await call("acme", "GET", "/v1/apps/hello/kv/default/value?key=k")).body, "acme's");
    assert.equal((await call("globex", "GET", "/v1/apps/hello/kv/default/value?key=k")).body, "globex's");
    await call("acme", "PUT", "/v1/apps/hello/vars/region", { json: { value: "eu" } });
    assert.deepEqual((await call("globex", "GET", "/v1/apps/hello/vars")).body.vars, {});
    assert.deepEqual((await call("acme", "GET", "/v1/apps/hello/vars")).body.vars, { region: "eu" });

    // Each app's log holds its own requests only.
    const logs = await call("globex", "GET", "/v1/apps/hello/logs");
    const records = logs.body.records as { type: string; tenant: string }[];
    assert.ok(
      records.some((r) => r.type === "request"),
      JSON.stringify(logs.body),
    );
    assert.ok(
      records.every((r) => r.tenant === "globex"),
      JSON.stringify(records),
    );
  });

  it("a tenant asking for another tenant's app is told only that it has no such app", async () => {
    const created = await call("acme", "PUT", "/v1/apps/acme-only", { json: {} });
    assert.equal(created.status, 201);
    for (const [method, path] of [
      ["GET", "/v1/apps/acme-only"],
      ["GET", "/v1/apps/acme-only/deployments"],
      ["GET", "/v1/apps/acme-only/kv/default/keys"],
      ["GET", "/v1/apps/acme-only/vars"],
      ["GET", "/v1/apps/acme-only/logs"],
      ["DELETE", "/v1/apps/acme-only"],
    ] as const) {
      const res = await call("globex", method, path);
      assert.equal(res.status, 404, `${method} ${path}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, "ERR_APP_NOT_FOUND");
      // Word for word what an app no tenant has gets: nothing hints that acme has one.
      const none = await call("globex", method, path.replace("acme-only", "nobody-has"));
      assert.equal(res.body.error.message, none.body.error.message.replace("nobody-has", "acme-only"));
    }
    const pushed = await cli("globex", [
      "push",
      watFile,
      "--app",
      "acme-only",
      "--host",
      "acme-only.globex.localhost",
    ]);
    assert.equal(pushed.code, 0, `globex may have an app of that name too: ${pushed.stderr}`);
    assert.equal((await call("acme", "GET", "/v1/apps/acme-only")).body.app.tenant, "acme");
    const peek = await call("globex", "GET", "/v1/apps/hello?tenant=acme");
    assert.equal(peek.status, 403, "a tenant's token cannot name another tenant");
    assert.equal(peek.body.error.code, "ERR_FORBIDDEN");
  });

  it("a hostname taken by another tenant's app is refused without naming that app", async () => {
    const bound = await call("acme", "PUT", "/v1/apps/hello", {
      json: { hostnames: ["hello.acme.localhost", "hello.shared.localhost"] },
    });
    assert.equal(bound.status, 200, JSON.stringify(bound.body));
    const foreign = await call("globex", "PUT", "/v1/apps/hello", {
      json: { hostnames: ["hello.globex.localhost", "hello.shared.localhost"] },
    });
    assert.equal(foreign.status, 409);
    assert.equal(foreign.body.error.code, "ERR_HOSTNAME_TAKEN");
    assert.equal(foreign.body.error.message, "hostname hello.shared.localhost is taken; choose another");
    const own = await call("acme", "PUT", "/v1/apps/other", {
      json: { hostnames: ["hello.shared.localhost"] },
    });
    assert.equal(own.status, 409);
    assert.match(own.body.error.message, /bound to app hello\b/, "the tenant's own app is named");
    assert.equal((await get(gw, "hello.globex.localhost")).text, "hello from wat", "unchanged");
  });

  it("the operator names the tenant when several have the app, and is told how when it does not", async () => {
    const ambiguous = await adminCall(gw, "GET", "/v1/apps/hello");
    assert.equal(ambiguous.status, 409);
    assert.equal(ambiguous.body.error.code, "ERR_APP_AMBIGUOUS");
    assert.match(ambiguous.body.error.message, /acme, globex .*\?tenant=/);
    const refused = await cli("operator", ["deployments", "list", "--app", "hello"]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /--tenant <name>/);
    const named = await cli("operator", [
      "deployments",
      "list",
      "--app",
      "hello",
      "--tenant",
      "globex",
      "--json",
    ]);
    assert.equal(named.code, 0, named.stderr);
    const viaEnv = await cli("operator", ["apps", "list", "--json"], { WASMGATE_TENANT: "acme" });
    assert.deepEqual(
      JSON.parse(viaEnv.stdout).apps.map((a: { tenant: string; name: string }) => `${a.tenant}/${a.name}`),
      ["acme/acme-only", "acme/hello"],
    );
    assert.equal((await adminCall(gw, "GET", "/v1/apps/hello?tenant=globex")).body.app.tenant, "globex");
    // An app only one tenant has needs no tenant named.
    assert.equal((await adminCall(gw, "GET", "/v1/apps/other")).status, 404);
  });

  it("deleting one tenant's hello leaves the other's serving, with its data", async () => {
    const deleted = await cli("globex", ["apps", "delete", "hello", "--yes", "--purge"]);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal((await get(gw, "hello.globex.localhost")).status, 404);
    assert.match((await get(gw, "hello.acme.localhost")).text, /fast world/);
    assert.equal((await call("acme", "GET", "/v1/apps/hello/kv/default/value?key=k")).body, "acme's");
    assert.deepEqual((await call("acme", "GET", "/v1/apps/hello/vars")).body.vars, { region: "eu" });
    // Now one tenant has it: the operator needs no tenant named.
    assert.equal((await adminCall(gw, "GET", "/v1/apps/hello")).body.app.tenant, "acme");
  });
});
