import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { base64url, generateKeyPair, SignJWT } from "jose";
import { GatewayError } from "../errors.ts";
import { createAuth, ensureOperatorToken, loadSigningKey, TOKEN_AUDIENCE, TOKEN_ISSUER } from "./index.ts";

const dir = mkdtempSync(join(tmpdir(), "wasmgate-auth-"));
after(() => rmSync(dir, { recursive: true, force: true }));

async function refused(p: Promise<unknown>, code: string) {
  await assert.rejects(p, (e: unknown) => e instanceof GatewayError && e.code === code && e.status === 401);
}

describe("auth", async () => {
  const keys = await loadSigningKey(dir);
  const auth = createAuth(keys);

  it("creates the signing key and the operator token with mode 0600, and keeps them across restarts", async () => {
    assert.equal(keys.created, true);
    const first = await ensureOperatorToken(dir, auth);
    assert.equal(first.created, true);
    assert.equal(statSync(join(dir, "signing-key.jwk")).mode & 0o777, 0o600);
    assert.equal(statSync(first.path).mode & 0o777, 0o600);
    const again = await loadSigningKey(dir);
    assert.equal(again.created, false);
    assert.equal(again.keyId, keys.keyId);
    assert.equal((await ensureOperatorToken(dir, createAuth(again))).created, false);
  });

  it("accepts its own operator token", async () => {
    const principal = await auth.verify(await auth.issueOperatorToken());
    assert.equal(principal.role, "operator");
  });

  it("refuses an expired token (frozen clock)", async () => {
    const past = createAuth(keys, { now: () => new Date("2020-01-01T00:00:00Z") });
    await refused(auth.verify(await past.issueOperatorToken()), "ERR_AUTH_EXPIRED");
  });

  it("refuses a token signed by another key", async () => {
    const other = createAuth({
      ...(await generateKeyPair("EdDSA", { crv: "Ed25519" })),
      keyId: "x",
    });
    await refused(auth.verify(await other.issueOperatorToken()), "ERR_AUTH_BAD_SIGNATURE");
  });

  it("refuses a tampered payload", async () => {
    const [h, , s] = (await auth.issueOperatorToken()).split(".");
    const payload = base64url.encode(
      JSON.stringify({
        sub: "operator",
        role: "operator",
        exp: 4102444800,
        iss: TOKEN_ISSUER,
        aud: TOKEN_AUDIENCE,
      }),
    );
    await refused(auth.verify(`${h}.${payload}.${s}`), "ERR_AUTH_BAD_SIGNATURE");
  });

  it("refuses alg none and HS256", async () => {
    const claims = {
      sub: "operator",
      role: "operator",
      exp: 4102444800,
      iss: TOKEN_ISSUER,
      aud: TOKEN_AUDIENCE,
    };
    const none = `${base64url.encode(JSON.stringify({ alg: "none" }))}.${base64url.encode(JSON.stringify(claims))}.`;
    await refused(auth.verify(none), "ERR_AUTH_ALG_NOT_ALLOWED");
    const hs = await new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256" })
      .sign(new TextEncoder().encode("k".repeat(32)));
    await refused(auth.verify(hs), "ERR_AUTH_ALG_NOT_ALLOWED");
  });

  it("refuses the wrong audience or issuer, and garbage", async () => {
    const wrongAud = await new SignJWT({ role: "operator" })
      .setProtectedHeader({ alg: "EdDSA" })
      .setIssuer(TOKEN_ISSUER)
      .setAudience("someone-else")
      .setSubject("operator")
      .setExpirationTime("1h")
      .sign(keys.privateKey);
    await refused(auth.verify(wrongAud), "ERR_AUTH_WRONG_AUDIENCE");
    const wrongIss = await new SignJWT({ role: "operator" })
      .setProtectedHeader({ alg: "EdDSA" })
      .setIssuer("someone-else")
      .setAudience(TOKEN_AUDIENCE)
      .setSubject("operator")
      .setExpirationTime("1h")
      .sign(keys.privateKey);
    // Without a state store no tenant trusts another issuer: the signature is checked as ours.
    await refused(auth.verify(wrongIss), "ERR_AUTH_WRONG_ISSUER");
    await refused(auth.verify("not-a-jwt"), "ERR_AUTH_INVALID");
  });
});
