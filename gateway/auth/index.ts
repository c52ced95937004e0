// Admin API authentication: bearer JWTs signed by the gateway's own EdDSA key and verified with an
// explicit algorithm allow-list, issuer, audience and expiry.

import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { MiddlewareHandler } from "hono";
import {
  type CryptoKey,
  calculateJwkThumbprint,
  createRemoteJWKSet,
  decodeJwt,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
  type JWTPayload,
  errors as joseErrors,
  jwtVerify,
  SignJWT,
} from "jose";
import { GatewayError, type GatewayErrorCode } from "../errors.ts";
import type { StateStore } from "../state/store.ts";

export const TOKEN_ISSUER = "wasmgate";
export const TOKEN_AUDIENCE = "wasmgate-admin";
export const ALLOWED_ALGORITHMS = ["EdDSA"];
export const OPERATOR_TOKEN_TTL_SECONDS = 365 * 24 * 3600;
const KEY_FILE = "signing-key.jwk";
export const OPERATOR_TOKEN_FILE = "operator-token";

/** What a tenant token may be granted; a `:write` scope includes the matching `:read`. */
export const SCOPES = [
  "apps:read",
  "apps:write",
  "kv:read",
  "kv:write",
  "config:read",
  "config:write",
  "logs:read",
] as const;
export type Scope = (typeof SCOPES)[number];

/** Algorithms accepted from an external identity provider's key set. */
const JWKS_ALGORITHMS = ["EdDSA", "ES256", "ES384", "RS256", "PS256"];

export type Principal =
  | { role: "operator"; subject: string; tokenId: string | undefined }
  | { role: "tenant"; subject: string; tenant: string; scopes: Scope[]; tokenId: string | undefined };

export interface Auth {
  issueOperatorToken(): Promise<string>;
  /** Signs a token for a tenant; the caller records it (id = jti) so it can be revoked. */
  issueTenantToken(claims: { id: string; tenant: string; scopes: Scope[]; expiresAt: Date }): Promise<string>;
  verify(token: string): Promise<Principal>;
  readonly keyId: string;
}

export interface KeyMaterial {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  keyId: string;
  created: boolean;
}

/** Loads the signing key from the state directory, creating it (mode 0600) on first start. */
export async function loadSigningKey(stateDir: string): Promise<KeyMaterial> {
  const file = join(stateDir, KEY_FILE);
  let created = false;
  if (!existsSync(file)) {
    await writeFile(file, `${JSON.stringify(await newSigningJwk())}\n`, { mode: 0o600 });
    created = true;
  }
  return { ...(await importSigningJwk(JSON.parse(await readFile(file, "utf8")) as JWK)), created };
}

/** A fresh Ed25519 private key as a JWK, with its thumbprint as `kid`. */
export async function newSigningJwk(): Promise<JWK> {
  const pair = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const jwk = await exportJWK(pair.privateKey);
  jwk.kid = await calculateJwkThumbprint(jwk);
  return jwk;
}

export async function importSigningJwk(jwk: JWK): Promise<Omit<KeyMaterial, "created">> {
  const { d: _private, ...publicJwk } = jwk;
  return {
    privateKey: (await importJWK({ ...jwk, alg: "EdDSA" }, "EdDSA")) as CryptoKey,
    publicKey: (await importJWK({ ...publicJwk, alg: "EdDSA" }, "EdDSA")) as CryptoKey,
    keyId: jwk.kid ?? (await calculateJwkThumbprint(publicJwk)),
  };
}

export interface AuthOptions {
  now?: () => Date;
  /**
   * Where tokens and tenants are recorded: tenant tokens must be on record and not revoked, and
   * tenants with a JWKS URL are trusted for their issuer. Without it only operator tokens verify.
   */
  state?: Pick<StateStore, "getToken" | "getTenant" | "listTenants">;
}

export function createAuth(keys: Omit<KeyMaterial, "created">, options: AuthOptions = {}): Auth {
  const now = options.now ?? (() => new Date());
  const state = options.state;
  const remoteKeySets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

  function sign(claims: JWTPayload, subject: string, jti: string, expiresAt: number) {
    return (
      new SignJWT(claims)
        .setProtectedHeader({ alg: "EdDSA", kid: keys.keyId, typ: "JWT" })
        .setIssuer(TOKEN_ISSUER)
        .setAudience(TOKEN_AUDIENCE)
        .setSubject(subject)
        .setJti(jti)
        .setIssuedAt(Math.floor(now().getTime() / 1000))
        // Relative times in jose use the real clock; derive exp from the injected one.
        .setExpirationTime(expiresAt)
        .sign(keys.privateKey)
    );
  }

  async function verifyWith<T>(verify: () => Promise<T>): Promise<T> {
    try {
      return await verify();
    } catch (err) {
      throw new GatewayError(authCode(err), `the bearer token was refused: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  async function verifyExternal(token: string, issuer: string): Promise<Principal> {
    const tenant = (await state?.listTenants())?.find((t) => t.jwks?.issuer === issuer);
    if (!tenant?.jwks) {
      throw new GatewayError(
        "ERR_AUTH_WRONG_ISSUER",
        `the bearer token was refused: unknown issuer "${issuer}"`,
      );
    }
    const { url, audience } = tenant.jwks;
    let keySet = remoteKeySets.get(url);
    if (!keySet) {
      keySet = createRemoteJWKSet(new URL(url), { timeoutDuration: 3000, cooldownDuration: 1000 });
      remoteKeySets.set(url, keySet);
    }
    const { payload } = await verifyWith(() =>
      jwtVerify(token, keySet, {
        algorithms: JWKS_ALGORITHMS,
        issuer,
        audience,
        requiredClaims: ["exp", "sub"],
        currentDate: now(),
      }),
    );
    const granted = typeof payload.scope === "string" ? payload.scope.split(" ") : [];
    return {
      role: "tenant",
      subject: payload.sub!,
      tenant: tenant.name,
      scopes: SCOPES.filter((s) => granted.includes(s)),
      tokenId: payload.jti,
    };
  }

  return {
    keyId: keys.keyId,
    async issueOperatorToken() {
      const issuedAt = Math.floor(now().getTime() / 1000);
      return sign({ role: "operator" }, "operator", randomUUID(), issuedAt + OPERATOR_TOKEN_TTL_SECONDS);
    },
    async issueTenantToken({ id, tenant, scopes, expiresAt }) {
      return sign(
        { role: "tenant", scope: scopes.join(" ") },
        tenant,
        id,
        Math.floor(expiresAt.getTime() / 1000),
      );
    },
    async verify(token) {
      let issuer: unknown;
      try {
        issuer = decodeJwt(token).iss;
      } catch {
        // Not even a JWT: the verification below says so.
      }
      if (typeof issuer === "string" && issuer !== TOKEN_ISSUER && state)
        return verifyExternal(token, issuer);
      const { payload } = await verifyWith(() =>
        jwtVerify(token, keys.publicKey, {
          algorithms: ALLOWED_ALGORITHMS,
          issuer: TOKEN_ISSUER,
          audience: TOKEN_AUDIENCE,
          requiredClaims: ["exp", "sub"],
          currentDate: now(),
        }),
      );
      const record = payload.jti && state ? await state.getToken(payload.jti) : undefined;
      if (record?.revokedAt) {
        throw new GatewayError("ERR_AUTH_REVOKED", `the bearer token was revoked at ${record.revokedAt}`);
      }
      if (payload.role === "operator")
        return { role: "operator", subject: payload.sub!, tokenId: payload.jti };
      if (payload.role !== "tenant") {
        throw new GatewayError("ERR_FORBIDDEN", "this token does not grant access to the admin API");
      }
      // Tenant tokens count only while on record: that is what makes them revocable.
      if (!record || record.tenant !== payload.sub) {
        throw new GatewayError(
          "ERR_AUTH_REVOKED",
          "the bearer token is not on record (revoked or never issued here)",
        );
      }
      return {
        role: "tenant",
        subject: payload.sub,
        tenant: record.tenant,
        scopes: record.scopes.filter((s): s is Scope => (SCOPES as readonly string[]).includes(s)),
        tokenId: payload.jti,
      };
    },
  };
}

function authCode(err: unknown): GatewayErrorCode {
  if (err instanceof joseErrors.JWTExpired) return "ERR_AUTH_EXPIRED";
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === "iss") return "ERR_AUTH_WRONG_ISSUER";
    if (err.claim === "aud") return "ERR_AUTH_WRONG_AUDIENCE";
    if (err.claim === "nbf" || err.claim === "iat") return "ERR_AUTH_NOT_YET_VALID";
    return "ERR_AUTH_CLAIM_INVALID";
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return "ERR_AUTH_BAD_SIGNATURE";
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return "ERR_AUTH_ALG_NOT_ALLOWED";
  return "ERR_AUTH_INVALID";
}

/** Whether the principal holds `scope` (operators hold every scope). */
export function hasScope(principal: Principal, scope: Scope): boolean {
  if (principal.role === "operator") return true;
  if (principal.scopes.includes(scope)) return true;
  return scope.endsWith(":read") && principal.scopes.includes(scope.replace(/:read$/, ":write") as Scope);
}

/**
 * Writes the operator token to `<stateDir>/operator-token` (mode 0600), keeping an existing one
 * that still verifies. Returns the file path and whether a new token was written.
 */
export async function ensureOperatorToken(
  stateDir: string,
  auth: Auth,
): Promise<{ path: string; created: boolean }> {
  const path = join(stateDir, OPERATOR_TOKEN_FILE);
  if (existsSync(path)) {
    try {
      await auth.verify((await readFile(path, "utf8")).trim());
      return { path, created: false };
    } catch {
      // Expired or signed by a key that is gone: issue a fresh one below.
    }
  }
  await writeFile(path, `${await auth.issueOperatorToken()}\n`, { mode: 0o600 });
  await chmod(path, 0o600);
  return { path, created: true };
}

/** Hono middleware: every request needs `Authorization: Bearer <jwt>`. */
export function bearerAuth(auth: Auth): MiddlewareHandler<{ Variables: { principal: Principal } }> {
  return async (c, next) => {
    const header = c.req.header("authorization");
    if (!header)
      throw new GatewayError("ERR_AUTH_MISSING", "this call needs an Authorization: Bearer <token> header");
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match)
      throw new GatewayError("ERR_AUTH_INVALID", "the Authorization header must be `Bearer <token>`");
    c.set("principal", await auth.verify(match[1]!));
    await next();
  };
}
