// Where the build tools are installed. jco brings componentize-js, componentize-qjs and rolldown as
// its own dependencies, so they are looked up the way Node's resolver would from jco, reading
// package.json directly (their `exports` do not expose it).

import { readFileSync } from "node:fs";
import path from "node:path";

/** This installation of wasmgate: the folder holding `wit/`, `sdk/` and `node_modules/`. */
export const INSTALL_ROOT = path.resolve(import.meta.dirname, "..", "..");

export interface PackageInfo {
  readonly dir: string;
  readonly version: string;
  readonly bin: Readonly<Record<string, string>>;
}

export class MissingPackageError extends Error {
  override readonly name = "MissingPackageError";
}

const cache = new Map<string, PackageInfo>();

export function packageInfo(name: string): PackageInfo {
  const known = cache.get(name);
  if (known !== undefined) return known;
  const from = name === "@bytecodealliance/jco" ? INSTALL_ROOT : packageInfo("@bytecodealliance/jco").dir;
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, "node_modules", name);
    const manifest = readJson(path.join(candidate, "package.json"));
    if (manifest !== undefined) {
      const bin = typeof manifest.bin === "object" && manifest.bin !== null ? manifest.bin : {};
      const info = { dir: candidate, version: String(manifest.version), bin };
      cache.set(name, info);
      return info;
    }
    if (path.dirname(dir) === dir)
      throw new MissingPackageError(`Package ${name} is not installed; run npm ci.`);
  }
}

function readJson(file: string): Record<string, any> | undefined {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch {
    return undefined;
  }
}
