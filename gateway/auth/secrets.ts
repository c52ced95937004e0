// Secrets at rest: AES-256-GCM under a key the gateway creates in its state directory (mode
// 0600). Each value is sealed with a fresh 96-bit nonce and bound to its tenant, app and name as
// additional data, so a sealed value copied to another app (of any tenant) or name does not open.

import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { GatewayError } from "../errors.ts";
import { type AppRef, appKey } from "../state/store.ts";

export const SECRET_KEY_FILE = "secrets.key";
/** Bound to `<tenant>/<app>` and the name. */
const FORMAT = "v2";
/**
 * Sealed before app names were per tenant: bound to the app's name alone, which was unique then.
 * Such values still open (for the app of that name they are stored under); setting one again
 * seals it as FORMAT.
 */
const FORMAT_BY_NAME = "v1";
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export interface SecretBox {
  seal(app: AppRef, name: string, value: string): string;
  /** Throws ERR_INTERNAL when the value was not sealed by this key for this app and name. */
  open(app: AppRef, name: string, sealed: string): string;
}

/** Loads the key from `<stateDir>/secrets.key`, creating it (mode 0600) on first start. */
export async function loadSecretKey(stateDir: string): Promise<Buffer> {
  const file = join(stateDir, SECRET_KEY_FILE);
  if (existsSync(file)) {
    const key = Buffer.from((await readFile(file, "utf8")).trim(), "base64");
    if (key.byteLength !== 32) {
      throw new GatewayError("ERR_INTERNAL", `${file} does not hold a 32-byte key (base64)`);
    }
    return key;
  }
  const key = randomBytes(32);
  await writeFile(file, `${key.toString("base64")}\n`, { mode: 0o600, flag: "wx" });
  await chmod(file, 0o600);
  return key;
}

export function createSecretBox(key: Buffer): SecretBox {
  const aad = (app: string, name: string) => Buffer.from(`wasmgate-secret\0${app}\0${name}`);
  return {
    seal(app, name, value) {
      const nonce = randomBytes(NONCE_BYTES);
      const cipher = createCipheriv("aes-256-gcm", key, nonce);
      cipher.setAAD(aad(appKey(app), name));
      const data = Buffer.concat([cipher.update(value, "utf8"), cipher.final()]);
      return `${FORMAT}.${Buffer.concat([nonce, cipher.getAuthTag(), data]).toString("base64")}`;
    },
    open(app, name, sealed) {
      try {
        const [format, body] = sealed.split(".", 2);
        if ((format !== FORMAT && format !== FORMAT_BY_NAME) || body === undefined) {
          throw new Error(`unknown format ${format}`);
        }
        const raw = Buffer.from(body, "base64");
        const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, NONCE_BYTES));
        decipher.setAAD(aad(format === FORMAT ? appKey(app) : app.name, name));
        decipher.setAuthTag(raw.subarray(NONCE_BYTES, NONCE_BYTES + TAG_BYTES));
        return Buffer.concat([
          decipher.update(raw.subarray(NONCE_BYTES + TAG_BYTES)),
          decipher.final(),
        ]).toString("utf8");
      } catch (err) {
        // Never include the value or the key; the name says which one to set again.
        throw new GatewayError(
          "ERR_INTERNAL",
          `the secret ${name} of app ${app.name} cannot be decrypted with this gateway's key; set it again`,
          { cause: err },
        );
      }
    },
  };
}
