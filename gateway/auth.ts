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
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
  type JWTPayload,
  errors as joseErrors,
  jwtVerify,
  SignJWT,
} from "jose";
import { GatewayError, type GatewayErrorCode } from "./errors.ts";

export const TOKEN_ISSUER = "wasmgate";
export const TOKEN_AUDIENCE = "wasmgate-admin";
export const ALLOWED_ALGORITHMS = ["EdDSA"];
export const OPERATOR_TOKEN_TTL_SECONDS = 365 * 24 * 3600;
const KEY_FILE = "signing-key.jwk";
export const OPERATOR_TOKEN_FILE = "operator-token";

export interface Principal {
  subject: string;
  role: "operator";
  tokenId: string | undefined;
}

export interface Auth {
  issueOperatorToken(): Promise<string>;
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
  let jwk: JWK;
  let created = false;
  if (existsSync(file)) {
    jwk = JSON.parse(await readFile(file, "utf8")) as JWK;
  } else {
    const pair = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
    jwk = await exportJWK(pair.privateKey);
    jwk.kid = await calculateJwkThumbprint(jwk);
    await writeFile(file, `${JSON.stringify(jwk)}\n`, { mode: 0o600 });
    created = true;
  }
  const { d: _private, ...publicJwk } = jwk;
  return {
    privateKey: (await importJWK({ ...jwk, alg: "EdDSA" }, "EdDSA")) as CryptoKey,
    publicKey: (await importJWK({ ...publicJwk, alg: "EdDSA" }, "EdDSA")) as CryptoKey,
    keyId: jwk.kid ?? (await calculateJwkThumbprint(publicJwk)),
    created,
  };
}

export function createAuth(keys: KeyMaterial, now: () => Date = () => new Date()): Auth {
  return {
    keyId: keys.keyId,
    async issueOperatorToken() {
      const issuedAt = Math.floor(now().getTime() / 1000);
      return (
        new SignJWT({ role: "operator" })
          .setProtectedHeader({ alg: "EdDSA", kid: keys.keyId, typ: "JWT" })
          .setIssuer(TOKEN_ISSUER)
          .setAudience(TOKEN_AUDIENCE)
          .setSubject("operator")
          .setJti(randomUUID())
          .setIssuedAt(issuedAt)
          // Relative times in jose use the real clock; derive exp from the injected one.
          .setExpirationTime(issuedAt + OPERATOR_TOKEN_TTL_SECONDS)
          .sign(keys.privateKey)
      );
    },
    async verify(token) {
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, keys.publicKey, {
          algorithms: ALLOWED_ALGORITHMS,
          issuer: TOKEN_ISSUER,
          audience: TOKEN_AUDIENCE,
          requiredClaims: ["exp", "sub"],
          currentDate: now(),
        }));
      } catch (err) {
        throw new GatewayError(authCode(err), `the bearer token was refused: ${(err as Error).message}`, {
          cause: err,
        });
      }
      if (payload.role !== "operator") {
        throw new GatewayError("ERR_FORBIDDEN", "this token does not grant access to the admin API");
      }
      return { subject: payload.sub!, role: "operator", tokenId: payload.jti };
    },
  };
}

function authCode(err: unknown): GatewayErrorCode {
  if (err instanceof joseErrors.JWTExpired) return "ERR_AUTH_EXPIRED";
  if (err instanceof joseErrors.JWTClaimValidationFailed) return "ERR_AUTH_CLAIM_INVALID";
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return "ERR_AUTH_BAD_SIGNATURE";
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return "ERR_AUTH_ALG_NOT_ALLOWED";
  return "ERR_AUTH_INVALID";
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
