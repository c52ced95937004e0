// Network policy is the operator's: a tenant's apps reach loopback, private, link-local and
// metadata addresses only in ranges the operator opened to the tenant, whatever their allow-list
// says; no app reaches the gateway's admin port. Against a real gateway process, with the outbound
// example guest calling real servers on loopback.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { buildGuest } from "../scripts/guests.ts";
import { adminCall, type GatewayProcess, get, push, runCli, startGateway } from "./harness/gateway.ts";
import { startUpstream, type Upstream } from "./harness/upstream.ts";

let gw: GatewayProcess;
/** On 127.0.0.1, and on 127.0.0.2 (outside a grant of 127.0.0.1/32). */
let upstream: Upstream;
let elsewhere: Upstream;
let outbound: string;
let tenantToken: string;

const q = (url: string) => encodeURIComponent(url);

/** What the guest reports for one outbound call: the upstream's body, or `error: <code>`. */
async function call(host: string, url: string): Promise<string> {
  const res = await get(gw, host, `/fetch?url=${q(url)}`);
  assert.ok(
    res.status === 200 || res.status === 502,
    `the guest answered (no trap): ${res.status} ${res.text}`,
  );
  return res.text;
}

const PROHIBITED = "error: destination-IP-prohibited\n";

async function putTenant(json: unknown, token?: string) {
  return adminCall(gw, "PUT", "/v1/tenants/acme", { json, token });
}

async function cli(args: string[]) {
  return runCli([...args, "--gateway", gw.adminUrl], { WASMGATE_TOKEN: gw.token });
}

before(async () => {
  [upstream, elsewhere] = await Promise.all([startUpstream(), startUpstream("127.0.0.2")]);
  outbound = await buildGuest("example", "outbound");
  gw = await startGateway();
  assert.equal((await putTenant({ hostnames: ["*.acme.localhost"] })).status, 201);
  const issued = await adminCall(gw, "POST", "/v1/tokens", {
    json: { tenant: "acme", scopes: ["apps:write"] },
  });
  assert.equal(issued.status, 201, JSON.stringify(issued.body));
  tenantToken = issued.body.token;
  // The tenant's own app: wildcards are the tenant's to allow.
  const created = await adminCall(gw, "PUT", "/v1/apps/acme-any", {
    token: tenantToken,
    json: { hostnames: ["any.acme.localhost"], allowedOutboundHosts: ["*://*:*"] },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const bytes = new Uint8Array(readFileSync(outbound));
  const deployed = await adminCall(gw, "POST", "/v1/apps/acme-any/deployments", {
    token: tenantToken,
    body: bytes,
  });
  assert.equal(deployed.status, 201, JSON.stringify(deployed.body));
  // One the operator set up for the tenant naming loopback addresses literally, as only the
  // default tenant's allow-list may.
  const named = await adminCall(gw, "PUT", "/v1/apps/acme-named", {
    json: {
      tenant: "acme",
      hostnames: ["named.acme.localhost"],
      allowedOutboundHosts: [
        `http://127.0.0.1:${upstream.port}`,
        `http://localhost:${upstream.port}`,
        `http://127.0.0.1:${gw.adminPort}`,
        `http://127.0.0.1:${gw.dataPort}`,
      ],
    },
  });
  assert.equal(named.status, 201, JSON.stringify(named.body));
  assert.equal((await adminCall(gw, "POST", "/v1/apps/acme-named/deployments", { body: bytes })).status, 201);
});
after(async () => {
  await gw?.dispose();
  await Promise.all([upstream?.close(), elsewhere?.close()]);
});

describe("network policy: the admin API", () => {
  it("refuses a tenant token's allow-list that names a special address or localhost, with 403", async () => {
    for (const pattern of [
      `http://127.0.0.1:${gw.adminPort}`,
      "http://localhost:*",
      "http://169.254.169.254",
      "http://[::1]:80",
      "http://[::ffff:127.0.0.1]:80",
      "http://10.0.0.1",
      "http://127.1:80",
      "http://app.localhost",
    ]) {
      const res = await adminCall(gw, "PUT", "/v1/apps/acme-any", {
        token: tenantToken,
        json: { allowedOutboundHosts: ["https://api.example.com", pattern] },
      });
      assert.equal(res.status, 403, `${pattern}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, "ERR_OUTBOUND_HOST_PRIVATE", pattern);
      assert.ok(res.body.error.requestId);
      assert.match(res.body.error.message, /deploy-cli tenants update acme --allow-private-network <cidr>/);
    }
    const app = await adminCall(gw, "GET", "/v1/apps/acme-any", { token: tenantToken });
    assert.deepEqual(app.body.app.allowedOutboundHosts, ["*://*:*"], "nothing refused was stored");
    // Wildcards, names and public addresses are the tenant's to allow.
    const fine = await adminCall(gw, "PUT", "/v1/apps/acme-any", {
      token: tenantToken,
      json: { allowedOutboundHosts: ["*://*:*", "https://*.example.com", "http://93.184.216.34"] },
    });
    assert.equal(fine.status, 200, JSON.stringify(fine.body));
    // The operator may set anything: the policy is checked at run time.
    const operator = await adminCall(gw, "PUT", "/v1/apps/acme-named", {
      json: {
        allowedOutboundHosts: (await adminCall(gw, "GET", "/v1/apps/acme-named")).body.app
          .allowedOutboundHosts,
      },
    });
    assert.equal(operator.status, 200, JSON.stringify(operator.body));
  });

  it("lets only the operator set a tenant's private ranges, validated as CIDRs", async () => {
    const asTenant = await putTenant({ allowPrivateNetwork: ["0.0.0.0/0"] }, tenantToken);
    assert.equal(asTenant.status, 403);
    assert.equal(asTenant.body.error.code, "ERR_FORBIDDEN");
    const smuggled = await adminCall(gw, "PUT", "/v1/apps/acme-any", {
      token: tenantToken,
      json: { allowPrivateNetwork: ["0.0.0.0/0"] },
    });
    assert.equal(smuggled.status, 400, "an app has no such field");
    assert.equal((await adminCall(gw, "GET", "/v1/tenants/acme")).body.tenant.allowPrivateNetwork.length, 0);

    for (const [bad, says] of [
      ["10.1.2.3/8", /the network is 10\.0\.0\.0\/8/],
      ["10.0.0.0/33", /is not a network/],
      ["intranet", /is not a network/],
    ] as const) {
      const res = await putTenant({ allowPrivateNetwork: [bad] });
      assert.equal(res.status, 400, bad);
      assert.equal(res.body.error.code, "ERR_VALIDATION");
      assert.match(res.body.error.message, says);
    }
    const ok = await putTenant({ allowPrivateNetwork: ["FD00::/8", "192.168.10.7"] });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual(ok.body.tenant.allowPrivateNetwork, ["fd00::/8", "192.168.10.7/32"], "normalized");
    assert.deepEqual(ok.body.tenant.hostnames, ["*.acme.localhost"], "other fields kept");
    const cleared = await putTenant({ allowPrivateNetwork: [] });
    assert.deepEqual(cleared.body.tenant.allowPrivateNetwork, []);
  });
});

describe("network policy: at run time", () => {
  it("keeps a tenant's app off loopback, metadata and the gateway's ports whatever its allow-list says", async () => {
    const before = upstream.connections;
    for (const url of [
      `${upstream.url}/hello`,
      `http://localhost:${upstream.port}/hello`,
      `http://[::ffff:127.0.0.1]:${upstream.port}/hello`,
      `http://127.0.0.1:${gw.adminPort}/metrics`,
      `http://127.0.0.1:${gw.dataPort}/`,
      "http://169.254.169.254/latest/meta-data/",
    ]) {
      assert.equal(await call("any.acme.localhost", url), PROHIBITED, `wildcard: ${url}`);
    }
    // Literal patterns (the operator's) do not open them either: only the default tenant's do.
    for (const url of [
      `${upstream.url}/hello`,
      `http://localhost:${upstream.port}/hello`,
      `http://127.0.0.1:${gw.adminPort}/metrics`,
      `http://127.0.0.1:${gw.dataPort}/`,
    ]) {
      assert.equal(await call("named.acme.localhost", url), PROHIBITED, `named: ${url}`);
    }
    assert.equal(upstream.connections, before, "the upstream saw no connection");
  });

  it("opens the range the operator grants, and never the admin port", async () => {
    const granted = await putTenant({ allowPrivateNetwork: ["127.0.0.0/8"] });
    assert.equal(granted.status, 200, JSON.stringify(granted.body));
    assert.equal(await call("any.acme.localhost", `${upstream.url}/hello`), "hello from upstream\n");
    assert.equal(await call("named.acme.localhost", `${upstream.url}/hello`), "hello from upstream\n");
    assert.equal(await call("any.acme.localhost", `${elsewhere.url}/hello`), "hello from upstream\n");
    assert.equal(await call("any.acme.localhost", `http://127.0.0.1:${gw.adminPort}/metrics`), PROHIBITED);
    assert.equal(await call("named.acme.localhost", `http://127.0.0.1:${gw.adminPort}/metrics`), PROHIBITED);
    assert.equal(await call("any.acme.localhost", `http://127.0.0.1:${gw.dataPort}/`), PROHIBITED);
    assert.equal(await call("any.acme.localhost", "http://10.0.0.1/"), PROHIBITED, "outside the grant");
    // Inside the grant, the tenant may now name the address itself.
    const put = await adminCall(gw, "PUT", "/v1/apps/acme-any", {
      token: tenantToken,
      json: { allowedOutboundHosts: ["*://*:*", `http://127.0.0.1:${upstream.port}`, "http://localhost:*"] },
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const outside = await adminCall(gw, "PUT", "/v1/apps/acme-any", {
      token: tenantToken,
      json: { allowedOutboundHosts: ["http://10.0.0.1"] },
    });
    assert.equal(outside.body.error?.code, "ERR_OUTBOUND_HOST_PRIVATE");
  });

  it("checks every redirect hop: an allowed server cannot send the guest outside the grant", async () => {
    assert.equal((await putTenant({ allowPrivateNetwork: ["127.0.0.1/32"] })).status, 200);
    const before = elsewhere.connections;
    assert.equal(
      await call("any.acme.localhost", `${elsewhere.url}/hello`),
      PROHIBITED,
      "127.0.0.2 directly",
    );
    assert.equal(
      await call("any.acme.localhost", `${upstream.url}/redirect?to=${q(`${elsewhere.url}/hello`)}`),
      PROHIBITED,
    );
    assert.equal(
      await call(
        "any.acme.localhost",
        `${upstream.url}/redirect?to=${q(`http://127.0.0.1:${gw.adminPort}/metrics`)}`,
      ),
      PROHIBITED,
    );
    assert.equal(elsewhere.connections, before, "the redirect target saw no connection");
    assert.equal(
      await call("any.acme.localhost", `${upstream.url}/redirect?to=/hello`),
      "hello from upstream\n",
      "a hop inside the grant is followed",
    );
  });

  it("is set with deploy-cli tenants update --allow-private-network and cleared with --no-allow-private-network", async () => {
    const cleared = await cli(["tenants", "update", "acme", "--no-allow-private-network", "--json"]);
    assert.equal(cleared.code, 0, cleared.stderr);
    assert.deepEqual(JSON.parse(cleared.stdout).tenant.allowPrivateNetwork, []);
    assert.equal(await call("any.acme.localhost", `${upstream.url}/hello`), PROHIBITED);

    const set = await cli(["tenants", "update", "acme", "--allow-private-network", "127.0.0.0/8,10.0.0.0/8"]);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /private ranges: 127\.0\.0\.0\/8, 10\.0\.0\.0\/8/);
    assert.equal(await call("any.acme.localhost", `${upstream.url}/hello`), "hello from upstream\n");
    assert.equal(await call("any.acme.localhost", `http://127.0.0.1:${gw.adminPort}/metrics`), PROHIBITED);
    const listed = await cli(["tenants", "list"]);
    assert.match(listed.stdout, /acme .*private 127\.0\.0\.0\/8, 10\.0\.0\.0\/8/);

    const bad = await cli(["tenants", "update", "acme", "--allow-private-network", "10.1.2.3/8", "--json"]);
    assert.equal(bad.code, 1);
    assert.equal(JSON.parse(bad.stdout).error.code, "ERR_VALIDATION");
    const both = await cli([
      "tenants",
      "update",
      "acme",
      "--allow-private-network",
      "10.0.0.0/8",
      "--no-allow-private-network",
    ]);
    assert.equal(both.code, 1);
    assert.match(both.stderr, /not both/);

    // A tenant's push that names a private address gets the code and the hint.
    const pushed = await runCli(
      [
        "push",
        outbound,
        "--app",
        "acme-any",
        "--allow-outbound",
        "http://192.168.1.1",
        "--gateway",
        gw.adminUrl,
      ],
      { WASMGATE_TOKEN: tenantToken },
    );
    assert.equal(pushed.code, 1, pushed.stderr);
    assert.match(pushed.stderr, /192\.168\.1\.1/);
    assert.match(pushed.stderr, /hint: .*--allow-private-network/);
  });
});

describe("network policy: the default tenant (local development)", () => {
  it("reaches what its allow-list names, sibling apps on the data port, and never the admin port", async () => {
    await push(gw, outbound, "dev", [
      "--host",
      "dev.localhost",
      "--allow-outbound",
      `http://127.0.0.1:${upstream.port}`,
      "--allow-outbound",
      `http://127.0.0.1:${gw.adminPort}`,
      "--allow-outbound",
      `http://[::1]:${gw.adminPort}`,
      "--allow-outbound",
      `http://localhost:${gw.dataPort}`,
      "--allow-outbound",
      `http://*:${upstream.port}`,
    ]);
    assert.equal(await call("dev.localhost", `${upstream.url}/hello`), "hello from upstream\n");
    assert.equal(
      await call("dev.localhost", `http://localhost:${upstream.port}/hello`),
      PROHIBITED,
      "a wildcard does not name loopback",
    );
    assert.equal(await call("dev.localhost", `http://127.0.0.1:${gw.adminPort}/metrics`), PROHIBITED);
    assert.equal(await call("dev.localhost", `http://[::1]:${gw.adminPort}/metrics`), PROHIBITED);
    // The data port answers: no app serves the host "localhost", which the gateway itself says.
    const sibling = await get(gw, "dev.localhost", `/fetch?url=${q(`http://localhost:${gw.dataPort}/`)}`);
    assert.equal(sibling.status, 200, sibling.text);
    assert.equal(sibling.headers.get("x-upstream-status"), "404");
    assert.match(sibling.text, /ERR_HOST_NOT_FOUND/);
  });
});
