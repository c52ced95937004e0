// Tenants and tokens: every admin call is authenticated and scoped to its tenant, hostnames stay
// inside what the tenant was granted, routing follows Cloudflare's precedence, deployments roll
// back and apps delete cleanly. Against a real gateway process.

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { base64url, exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from "jose";
import { buildGuest } from "../scripts/guests.ts";
import { adminCall, type GatewayProcess, get, runCli, startGateway } from "./harness/gateway.ts";

let gw: GatewayProcess;
let fast: Uint8Array;
let wat: Uint8Array;

before(async () => {
  fast = new Uint8Array(readFileSync(await buildGuest("example", "hello-fast")));
  wat = new Uint8Array(readFileSync(await buildGuest("fixture", "hello-p020")));
  gw = await startGateway({ args: ["--workers", "1"] });
});
after(() => gw?.dispose());

/** The gateway's own signing key, as an attacker who stole nothing would NOT have it. */
async function gatewayKey() {
  const jwk = JSON.parse(readFileSync(join(gw.stateDir, "signing-key.jwk"), "utf8")) as JWK;
  return { jwk, key: await importJWK({ ...jwk, alg: "EdDSA" }, "EdDSA") };
}

async function expectRefused(token: string | null, code: string, status = 401) {
  const res = await adminCall(gw, "GET", "/v1/apps", { token });
  assert.equal(res.status, status, `${code}: ${JSON.stringify(res.body)}`);
  assert.equal(res.body.error.code, code);
  assert.ok(res.body.error.requestId);
}

async function createTenant(name: string, hostnames: string[], quotas?: { apps?: number }) {
  const res = await adminCall(gw, "PUT", `/v1/tenants/${name}`, { json: { hostnames, quotas } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
}

async function tokenFor(tenant: string, scopes: string[], extra: Record<string, unknown> = {}) {
  const res = await adminCall(gw, "POST", "/v1/tokens", { json: { tenant, scopes, ...extra } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body as { token: string; info: { id: string } };
}

async function deploy(app: string, bytes: Uint8Array, token?: string) {
  const res = await adminCall(gw, "POST", `/v1/apps/${app}/deployments`, { token, body: bytes });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.deployment as { id: string; digest: string };
}

/** Which app answered a data-plane request, from the gateway's own request log. */
async function servedBy(host: string): Promise<string | undefined> {
  const res = await get(gw, host, "/which");
  if (res.status === 404) return undefined;
  const id = res.headers.get("x-request-id");
  for (let i = 0; i < 50; i++) {
    const line = gw.logs.find((l) => l.msg === "request" && l.requestId === id);
    if (line) return String(line.app);
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no request log line for ${host}`);
}

describe("tokens", () => {
  it("refuses each kind of bad token with its own code", async () => {
    await createTenant("tokens", ["*.tokens.localhost"]);
    const good = await tokenFor("tokens", ["apps:read"]);
    assert.equal((await adminCall(gw, "GET", "/v1/apps", { token: good.token })).status, 200);
    const { jwk, key } = await gatewayKey();
    const now = Math.floor(Date.now() / 1000);
    const claims = { role: "tenant", scope: "apps:read", jti: good.info.id };
    const signed = (payload: Record<string, unknown>) =>
      new SignJWT({ ...claims, ...payload })
        .setProtectedHeader({ alg: "EdDSA", kid: jwk.kid })
        .setIssuer("wasmgate")
        .setAudience("wasmgate-admin")
        .setSubject("tokens")
        .sign(key);

    await expectRefused(null, "ERR_AUTH_MISSING");
    await expectRefused("not.a.jwt", "ERR_AUTH_INVALID");
    // Signed by a key of our own making.
    const forgedKey = (await generateKeyPair("EdDSA")).privateKey;
    const forged = await new SignJWT({ ...claims, exp: now + 60 })
      .setProtectedHeader({ alg: "EdDSA" })
      .setIssuer("wasmgate")
      .setAudience("wasmgate-admin")
      .setSubject("tokens")
      .sign(forgedKey);
    await expectRefused(forged, "ERR_AUTH_BAD_SIGNATURE");
    // A valid tenant token whose payload is rewritten to claim the operator role.
    const [header, , signature] = good.token.split(".");
    const payload = JSON.parse(Buffer.from(good.token.split(".")[1]!, "base64url").toString());
    const tampered = `${header}.${base64url.encode(JSON.stringify({ ...payload, role: "operator" }))}.${signature}`;
    await expectRefused(tampered, "ERR_AUTH_BAD_SIGNATURE");
    // alg: none, and HS256 keyed with the public key (the classic confusion attack).
    const none = `${base64url.encode(JSON.stringify({ alg: "none", typ: "JWT" }))}.${base64url.encode(
      JSON.stringify({ ...payload, role: "operator" }),
    )}.`;
    await expectRefused(none, "ERR_AUTH_ALG_NOT_ALLOWED");
    const hs = await new SignJWT({ ...payload, role: "operator" })
      .setProtectedHeader({ alg: "HS256" })
      .sign(new TextEncoder().encode(JSON.stringify({ kty: jwk.kty, crv: jwk.crv, x: jwk.x })));
    await expectRefused(hs, "ERR_AUTH_ALG_NOT_ALLOWED");
    // Signed with the gateway's real key but with claims that must not pass.
    await expectRefused(await signed({ exp: now - 10 }), "ERR_AUTH_EXPIRED");
    await expectRefused(await signed({ exp: now + 600, nbf: now + 300 }), "ERR_AUTH_NOT_YET_VALID");
    await expectRefused(
      await new SignJWT({ ...claims, exp: now + 60 })
        .setProtectedHeader({ alg: "EdDSA" })
        .setIssuer("someone-else")
        .setAudience("wasmgate-admin")
        .setSubject("tokens")
        .sign(key),
      "ERR_AUTH_WRONG_ISSUER",
    );
    await expectRefused(
      await new SignJWT({ ...claims, exp: now + 60 })
        .setProtectedHeader({ alg: "EdDSA" })
        .setIssuer("wasmgate")
        .setAudience("another-service")
        .setSubject("tokens")
        .sign(key),
      "ERR_AUTH_WRONG_AUDIENCE",
    );
    // Correctly signed, but never issued (not on record): not accepted either.
    await expectRefused(await signed({ exp: now + 60, jti: "tok_made_up" }), "ERR_AUTH_REVOKED");

    const revoke = await adminCall(gw, "DELETE", `/v1/tokens/${good.info.id}`);
    assert.equal(revoke.status, 200);
    await expectRefused(good.token, "ERR_AUTH_REVOKED");
    const listed = await adminCall(gw, "GET", "/v1/tokens?tenant=tokens");
    assert.ok(listed.body.tokens.find((t: { id: string }) => t.id === good.info.id).revokedAt);
    assert.equal(JSON.stringify(listed.body).includes(good.token), false, "token values are never listed");
  });

  it("keeps each tenant to its own apps, hostnames, scopes and quota", async () => {
    await createTenant("acme", ["*.acme.localhost", "*.shared.localhost"]);
    await createTenant("globex", ["*.globex.localhost", "*.shared.localhost"], { apps: 2 });
    const acme = (await tokenFor("acme", ["apps:write", "kv:write", "config:write", "logs:read"])).token;
    const acmeReader = (await tokenFor("acme", ["apps:read"])).token;
    const globex = (await tokenFor("globex", ["apps:write", "kv:write", "config:write", "logs:read"])).token;

    const created = await adminCall(gw, "PUT", "/v1/apps/shop", {
      token: acme,
      json: { hostnames: ["shop.acme.localhost", "shop.shared.localhost"] },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.app.tenant, "acme");
    await deploy("shop", fast, acme);
    assert.equal((await get(gw, "shop.acme.localhost")).status, 200);
    const put = await adminCall(gw, "PUT", "/v1/apps/shop/kv/default/value?key=k", {
      token: acme,
      body: new TextEncoder().encode("acme's"),
      contentType: "application/octet-stream",
    });
    assert.equal(put.status, 204);

    // Hostnames: outside the grant → 403; inside but bound by another app → 409.
    const outside = await adminCall(gw, "PUT", "/v1/apps/shop", {
      token: acme,
      json: { hostnames: ["shop.globex.localhost"] },
    });
    assert.equal(outside.status, 403);
    assert.equal(outside.body.error.code, "ERR_HOSTNAME_NOT_GRANTED");
    const apex = await adminCall(gw, "PUT", "/v1/apps/shop", {
      token: acme,
      json: { hostnames: ["acme.localhost"] },
    });
    assert.equal(apex.body.error.code, "ERR_HOSTNAME_NOT_GRANTED", "a wildcard grant covers subdomains only");
    const taken = await adminCall(gw, "PUT", "/v1/apps/rival", {
      token: globex,
      json: { hostnames: ["shop.shared.localhost"] },
    });
    assert.equal(taken.status, 409);
    assert.equal(taken.body.error.code, "ERR_HOSTNAME_TAKEN");
    assert.equal(
      (await adminCall(gw, "GET", "/v1/apps/rival", { token: globex })).status,
      404,
      "nothing created",
    );

    // Tenant B on tenant A's app, by name: read, deploy, roll back, logs, KV, config, delete. App
    // names are per tenant: B's token means B's own app of that name, which does not exist, and
    // nothing says that A has one.
    const foreign: [string, string, Parameters<typeof adminCall>[3]][] = [
      ["GET", "/v1/apps/shop", {}],
      ["POST", "/v1/apps/shop/deployments", { body: fast }],
      ["GET", "/v1/apps/shop/deployments", {}],
      ["POST", "/v1/apps/shop/rollback", { json: {} }],
      ["GET", "/v1/apps/shop/logs", {}],
      ["GET", "/v1/apps/shop/kv/default/value?key=k", {}],
      [
        "PUT",
        "/v1/apps/shop/kv/default/value?key=k",
        { body: fast, contentType: "application/octet-stream" },
      ],
      ["GET", "/v1/apps/shop/vars", {}],
      ["PUT", "/v1/apps/shop/vars/x", { json: { value: "y" } }],
      ["DELETE", "/v1/apps/shop?purge=true", {}],
    ];
    for (const [method, path, options] of foreign) {
      const res = await adminCall(gw, method, path, { ...options, token: globex });
      assert.equal(res.status, 404, `${method} ${path}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, "ERR_APP_NOT_FOUND");
      assert.doesNotMatch(JSON.stringify(res.body), /acme|tenant/, "nothing of the other tenant is told");
    }
    const ownLogs = await adminCall(gw, "GET", "/v1/apps/shop/logs", { token: acme });
    assert.equal(ownLogs.status, 200, "a tenant reads its own app's logs");
    assert.ok(
      ownLogs.body.records.some((r: { type?: string; status?: number }) => r.status === 200),
      JSON.stringify(ownLogs.body),
    );
    const readerLogs = await adminCall(gw, "GET", "/v1/apps/shop/logs", { token: acmeReader });
    assert.equal(readerLogs.body.error.code, "ERR_SCOPE_MISSING", "apps:read does not include logs:read");
    const value = await adminCall(gw, "GET", "/v1/apps/shop/kv/default/value?key=k", { token: acme });
    assert.equal(value.body, "acme's", "still there and unchanged");
    assert.equal((await get(gw, "shop.acme.localhost")).status, 200, "still serving");
    const globexList = await adminCall(gw, "GET", "/v1/apps", { token: globex });
    assert.deepEqual(globexList.body.apps, [], "a tenant lists only its own apps");
    const acmeList = await adminCall(gw, "GET", "/v1/apps", { token: acme });
    assert.deepEqual(
      acmeList.body.apps.map((a: { name: string }) => a.name),
      ["shop"],
    );

    // Scopes: a read-only token reads but cannot change; no tenant manages tenants or tokens.
    assert.equal((await adminCall(gw, "GET", "/v1/apps/shop", { token: acmeReader })).status, 200);
    const noScope = await adminCall(gw, "PUT", "/v1/apps/shop", { token: acmeReader, json: {} });
    assert.equal(noScope.status, 403);
    assert.equal(noScope.body.error.code, "ERR_SCOPE_MISSING");
    const kvScope = await adminCall(gw, "GET", "/v1/apps/shop/kv/default/keys", { token: acmeReader });
    assert.equal(kvScope.body.error.code, "ERR_SCOPE_MISSING");
    for (const [method, path] of [
      ["GET", "/v1/tenants"],
      ["POST", "/v1/tokens"],
      ["DELETE", "/v1/tenants/globex"],
    ] as const) {
      const res = await adminCall(gw, method, path, {
        token: acme,
        ...(method === "GET" ? {} : { json: {} }),
      });
      assert.equal(res.status, 403, `${method} ${path}`);
    }
    // A token cannot place an app in another tenant.
    const smuggled = await adminCall(gw, "PUT", "/v1/apps/smuggled", {
      token: acme,
      json: { tenant: "globex", hostnames: [] },
    });
    assert.equal(smuggled.status, 403);

    // Quota: globex may have two apps.
    for (const name of ["g1", "g2"]) {
      assert.equal((await adminCall(gw, "PUT", `/v1/apps/${name}`, { token: globex, json: {} })).status, 201);
    }
    const third = await adminCall(gw, "PUT", "/v1/apps/g3", { token: globex, json: {} });
    assert.equal(third.status, 403);
    assert.equal(third.body.error.code, "ERR_QUOTA_EXCEEDED");

    // A tenant with apps cannot be deleted; once they are gone it can, and its tokens stop working.
    assert.equal((await adminCall(gw, "DELETE", "/v1/tenants/globex")).status, 409);
    for (const name of ["g1", "g2"])
      assert.equal((await adminCall(gw, "DELETE", `/v1/apps/${name}`)).status, 200);
    assert.equal((await adminCall(gw, "DELETE", "/v1/tenants/globex")).status, 200);
    await expectRefused(globex, "ERR_AUTH_REVOKED");
  });
});

describe("routing", () => {
  it("sends each host to the most specific pattern, exact before wildcard, case and port ignored", async () => {
    const apps: Record<string, string> = {
      "exact-ab": "a.b.prec.localhost",
      "exact-b": "b.prec.localhost",
      "wild-b": "*.b.prec.localhost",
      wild: "*.prec.localhost",
    };
    for (const [app, host] of Object.entries(apps)) {
      assert.equal(
        (await adminCall(gw, "PUT", `/v1/apps/${app}`, { json: { hostnames: [host] } })).status,
        201,
      );
      await deploy(app, fast);
    }
    const table: [string, string | undefined][] = [
      ["a.b.prec.localhost", "exact-ab"],
      ["A.B.Prec.LOCALHOST", "exact-ab"],
      ["a.b.prec.localhost:8787", "exact-ab"],
      ["b.prec.localhost", "exact-b"],
      ["B.PREC.localhost:1", "exact-b"],
      ["x.b.prec.localhost", "wild-b"],
      ["y.x.b.prec.localhost", "wild-b"],
      ["c.prec.localhost", "wild"],
      ["x.y.prec.localhost", "wild"],
      ["prec.localhost", undefined],
      ["b.prec.localhost.evil.example", undefined],
    ];
    for (const [host, app] of table) assert.equal(await servedBy(host), app, host);
  });
});

describe("deployments", () => {
  it("rolls back instantly to any retained deployment, recorded as a deployment itself", async () => {
    assert.equal(
      (await adminCall(gw, "PUT", "/v1/apps/versions", { json: { hostnames: ["versions.localhost"] } }))
        .status,
      201,
    );
    const v1 = await deploy("versions", fast);
    const v2 = await deploy("versions", wat);
    assert.equal((await get(gw, "versions.localhost")).text, "hello from wat");

    const back = await adminCall(gw, "POST", "/v1/apps/versions/rollback");
    assert.equal(back.status, 201, JSON.stringify(back.body));
    assert.equal(back.body.deployment.rollbackOf, v1.id);
    assert.equal(back.body.deployment.digest, v1.digest);
    assert.match((await get(gw, "versions.localhost")).text, /fast world/);

    const forward = await adminCall(gw, "POST", "/v1/apps/versions/rollback", {
      json: { deployment: v2.id, message: "forward again" },
    });
    assert.equal(forward.status, 201);
    assert.equal((await get(gw, "versions.localhost")).text, "hello from wat");
    const list = (await adminCall(gw, "GET", "/v1/apps/versions/deployments")).body.deployments;
    assert.deepEqual(
      list.map((d: { rollbackOf: string | null; active: boolean; message: string | null }) => [
        d.rollbackOf,
        d.active,
        d.message,
      ]),
      [
        [v2.id, true, "forward again"],
        [v1.id, false, `rollback to ${v1.id}`],
        [null, false, null],
        [null, false, null],
      ],
    );
    const missing = await adminCall(gw, "POST", "/v1/apps/versions/rollback", {
      json: { deployment: "dep_nope" },
    });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, "ERR_DEPLOYMENT_NOT_FOUND");

    // The same bytes pushed again are stored once.
    const artifacts = () =>
      readdirSync(join(gw.stateDir, "artifacts")).filter((f) => f.endsWith(".wasm")).length;
    const before = artifacts();
    const again = await adminCall(gw, "POST", "/v1/apps/versions/deployments", { body: fast });
    assert.equal(again.body.reused, true);
    assert.equal(artifacts(), before);
  });

  it("deleting an app stops serving it and frees its hostnames; KV data stays unless purged", async () => {
    const setUp = async () => {
      assert.equal(
        (await adminCall(gw, "PUT", "/v1/apps/doomed", { json: { hostnames: ["doomed.localhost"] } })).status,
        201,
      );
      await deploy("doomed", fast);
    };
    const kvValue = () => adminCall(gw, "GET", "/v1/apps/doomed/kv/default/value?key=keep");
    await setUp();
    await adminCall(gw, "PUT", "/v1/apps/doomed/kv/default/value?key=keep", {
      body: new TextEncoder().encode("data"),
      contentType: "application/octet-stream",
    });
    const deleted = await adminCall(gw, "DELETE", "/v1/apps/doomed");
    assert.equal(deleted.status, 200);
    assert.equal((await get(gw, "doomed.localhost")).status, 404);
    assert.equal((await adminCall(gw, "GET", "/v1/apps/doomed")).status, 404);
    // The hostname is free: another app takes it.
    const taker = await adminCall(gw, "PUT", "/v1/apps/taker", { json: { hostnames: ["doomed.localhost"] } });
    assert.equal(taker.status, 201);
    assert.equal((await adminCall(gw, "DELETE", "/v1/apps/taker")).status, 200);

    await setUp();
    assert.equal((await kvValue()).body, "data", "kept across the delete");
    // Purge removes the app's own buckets.
    const purged = await adminCall(gw, "DELETE", "/v1/apps/doomed?purge=true");
    assert.deepEqual(purged.body, { deleted: "doomed", purgedBuckets: ["default"], purgedKeys: 1 });
    await setUp();
    assert.equal((await kvValue()).status, 404, "the app's own default bucket was purged");
    // A tenant-level bucket stays while another app of the tenant names it.
    const share = { json: { sharedBuckets: ["team"] } };
    await adminCall(gw, "PUT", "/v1/apps/doomed", share);
    assert.equal((await adminCall(gw, "PUT", "/v1/apps/sharer", share)).status, 201);
    await adminCall(gw, "PUT", "/v1/apps/doomed/kv/team/value?key=a", {
      body: new TextEncoder().encode("ours"),
      contentType: "application/octet-stream",
    });
    const kept = await adminCall(gw, "DELETE", "/v1/apps/doomed?purge=true");
    assert.deepEqual(
      kept.body,
      { deleted: "doomed", purgedBuckets: ["default"], purgedKeys: 0 },
      "team is shared",
    );
    assert.equal((await adminCall(gw, "GET", "/v1/apps/sharer/kv/team/value?key=a")).body, "ours");
    const last = await adminCall(gw, "DELETE", "/v1/apps/sharer?purge=true");
    assert.deepEqual(last.body, { deleted: "sharer", purgedBuckets: ["default", "team"], purgedKeys: 1 });
  });
});

describe("external identity provider", () => {
  it("trusts a tenant's JWKS issuer for that tenant only, with its audience and scopes", async () => {
    const idp = await generateKeyPair("ES256", { extractable: true });
    const publicJwk = { ...(await exportJWK(idp.publicKey)), kid: "idp-1", alg: "ES256", use: "sig" };
    const server = createServer((req, res) => {
      res.writeHead(req.url === "/jwks.json" ? 200 : 404, { "content-type": "application/json" });
      res.end(JSON.stringify({ keys: [publicJwk] }));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
    try {
      const tenant = await adminCall(gw, "PUT", "/v1/tenants/sso", {
        json: {
          hostnames: ["*.sso.localhost"],
          jwks: { url, issuer: "https://idp.example", audience: "wasmgate" },
        },
      });
      assert.equal(tenant.status, 201, JSON.stringify(tenant.body));
      const idpToken = (claims: { aud?: string; scope?: string; key?: CryptoKey }) =>
        new SignJWT({ scope: claims.scope ?? "apps:write" })
          .setProtectedHeader({ alg: "ES256", kid: "idp-1" })
          .setIssuer("https://idp.example")
          .setAudience(claims.aud ?? "wasmgate")
          .setSubject("alice@sso")
          .setExpirationTime("5m")
          .sign(claims.key ?? idp.privateKey);

      const token = await idpToken({});
      const created = await adminCall(gw, "PUT", "/v1/apps/sso-app", {
        token,
        json: { hostnames: ["app.sso.localhost"] },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.body.app.tenant, "sso");
      const other = await adminCall(gw, "GET", "/v1/apps/shop", { token });
      assert.equal(other.status, 404, "another tenant's app is not found");
      const readOnly = await idpToken({ scope: "apps:read" });
      assert.equal(
        (await adminCall(gw, "DELETE", "/v1/apps/sso-app", { token: readOnly })).body.error.code,
        "ERR_SCOPE_MISSING",
      );
      await expectRefused(await idpToken({ aud: "someone-else" }), "ERR_AUTH_WRONG_AUDIENCE");
      const stranger = await generateKeyPair("ES256");
      await expectRefused(await idpToken({ key: stranger.privateKey }), "ERR_AUTH_BAD_SIGNATURE");
    } finally {
      server.close();
    }
  });
});

describe("deploy-cli for tenants", () => {
  it("creates a tenant and a token, deploys and rolls back with it, and is refused once it is revoked", async () => {
    const operator = (args: string[]) =>
      runCli([...args, "--gateway", gw.adminUrl, "--json"], { WASMGATE_TOKEN: gw.token });
    const created = await operator([
      "tenants",
      "create",
      "cli-co",
      "--host",
      "*.cli-co.localhost",
      "--max-apps",
      "3",
    ]);
    assert.equal(created.code, 0, created.stderr);
    assert.deepEqual(JSON.parse(created.stdout).tenant.quotas, { apps: 3 });
    const issued = await operator([
      "tokens",
      "create",
      "--tenant",
      "cli-co",
      "--scope",
      "apps:write",
      "--expires-in",
      "1d",
    ]);
    assert.equal(issued.code, 0, issued.stderr);
    const { token, info } = JSON.parse(issued.stdout);
    assert.ok(Date.parse(info.expiresAt) - Date.now() > 23 * 3600 * 1000);

    const tenant = (args: string[]) => runCli([...args, "--gateway", gw.adminUrl], { WASMGATE_TOKEN: token });
    const fastFile = await buildGuest("example", "hello-fast");
    const watFile = await buildGuest("fixture", "hello-p020");
    for (const file of [fastFile, watFile]) {
      const pushed = await tenant(["push", file, "--app", "cli-app", "--host", "www.cli-co.localhost"]);
      assert.equal(pushed.code, 0, pushed.stderr);
    }
    assert.equal((await get(gw, "www.cli-co.localhost")).text, "hello from wat");
    const rolled = await tenant(["rollback", "--app", "cli-app"]);
    assert.equal(rolled.code, 0, rolled.stderr);
    assert.match(rolled.stdout, /^Rolled back cli-app to dep_/);
    assert.match((await get(gw, "www.cli-co.localhost")).text, /fast world/);

    const outside = await tenant(["push", fastFile, "--app", "cli-app", "--host", "www.elsewhere.localhost"]);
    assert.equal(outside.code, 1);
    assert.match(outside.stderr, /ERR_HOSTNAME_NOT_GRANTED/);
    const tenantsAsTenant = await tenant(["tenants", "list"]);
    assert.equal(tenantsAsTenant.code, 1);
    assert.match(tenantsAsTenant.stderr, /only the operator/);

    const listed = await operator(["tokens", "list", "--tenant", "cli-co"]);
    assert.deepEqual(
      JSON.parse(listed.stdout).tokens.map((t: { id: string }) => t.id),
      [info.id],
    );
    const brief = await operator([
      "tokens",
      "create",
      "--tenant",
      "cli-co",
      "--scope",
      "apps:read",
      "--expires-in",
      "1s",
    ]);
    assert.equal(brief.code, 0, brief.stderr);
    const briefId = JSON.parse(brief.stdout).info.id as string;
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const shown = await runCli(["tokens", "list", "--tenant", "cli-co", "--gateway", gw.adminUrl], {
      WASMGATE_TOKEN: gw.token,
    });
    assert.equal(shown.code, 0, shown.stderr);
    const rows = shown.stdout.trimEnd().split("\n");
    assert.match(rows.find((r) => r.startsWith(info.id)) ?? "", / {2}expires \d{4}-/);
    assert.match(rows.find((r) => r.startsWith(briefId)) ?? "", / {2}expired \d{4}-/);
    // One column each: the state column starts at the same place on every row.
    assert.equal(new Set(rows.map((r) => r.search(/ expire[sd] /))).size, 1);
    assert.equal((await operator(["tokens", "revoke", info.id])).code, 0);
    const refused = await tenant(["rollback", "--app", "cli-app"]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /ERR_AUTH_REVOKED/);

    const deleted = await operator(["apps", "delete", "cli-app", "--purge"]);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal(JSON.parse(deleted.stdout).deleted, "cli-app");
    assert.equal((await get(gw, "www.cli-co.localhost")).status, 404);
    assert.equal((await operator(["tenants", "delete", "cli-co"])).code, 0);
    const gone = await operator(["tenants", "delete", "cli-co"]);
    assert.equal(gone.code, 1);
    assert.equal(JSON.parse(gone.stdout).error.code, "ERR_TENANT_NOT_FOUND");
  });
});
