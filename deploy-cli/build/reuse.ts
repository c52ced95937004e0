// The last few components `push` built for a project, kept in its `.wasmgate/builds/` under a key
// of everything the build reads: the project's files (wasmgate.json and the lockfile included), the
// SDK, the build tools' versions and the build's options. StarlingMonkey's builds are not
// byte-for-byte reproducible (the snapshot of the engine's memory differs from run to run), so
// pushing unchanged sources again reuses the component, and the deployment gets the same digest.

import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import { sourceHash } from "../dev/watch.ts";
import { INSTALL_ROOT, packageInfo } from "./packages.ts";

/** How many builds a project keeps; the least recently used go first. */
const KEPT_BUILDS = 3;
const BUILD_FILE = /^[0-9a-f]{64}\.wasm$/;

export interface BuildKeyInput {
  /** The project's folder: every file under it that is not an output or a package is hashed. */
  projectDir: string;
  entry: string;
  /** The build's options (backend, world, bindings), as JSON. */
  options: unknown;
}

export async function buildKey(input: BuildKeyInput): Promise<string> {
  const ownVersion = JSON.parse(await readFile(path.join(INSTALL_ROOT, "package.json"), "utf8")).version;
  const tools = [
    "@bytecodealliance/jco",
    "@bytecodealliance/componentize-js",
    "componentize-qjs",
    "rolldown",
  ].map((name) => {
    try {
      return `${name}@${packageInfo(name).version}`;
    } catch {
      return `${name}@missing`;
    }
  });
  return createHash("sha256")
    .update(
      JSON.stringify([
        ownVersion,
        tools,
        await sourceHash(path.join(INSTALL_ROOT, "sdk")),
        await sourceHash(input.projectDir, [input.entry]),
        path.relative(input.projectDir, input.entry),
        input.options,
      ]),
    )
    .digest("hex");
}

function buildsDir(projectDir: string): string {
  return path.join(projectDir, ".wasmgate", "builds");
}

/** The component built under `key`, if it is still kept. */
export async function reusedBuild(projectDir: string, key: string): Promise<Uint8Array | undefined> {
  const file = path.join(buildsDir(projectDir), `${key}.wasm`);
  try {
    const bytes = new Uint8Array(await readFile(file));
    const now = new Date();
    await utimes(file, now, now);
    return bytes;
  } catch {
    return undefined;
  }
}

/** Keeps `bytes` under `key` (written whole, then renamed) and drops the oldest past KEPT_BUILDS. */
export async function keepBuild(projectDir: string, key: string, bytes: Uint8Array): Promise<void> {
  const dir = buildsDir(projectDir);
  await mkdir(dir, { recursive: true });
  const tmp = path.join(dir, `${key}.${process.pid}.tmp`);
  await writeFile(tmp, bytes);
  await rename(tmp, path.join(dir, `${key}.wasm`));
  const kept = await Promise.all(
    (await readdir(dir))
      .filter((name) => BUILD_FILE.test(name))
      .map(async (name) => ({ name, used: (await stat(path.join(dir, name))).mtimeMs })),
  );
  kept.sort((a, b) => b.used - a.used);
  for (const old of kept.slice(KEPT_BUILDS)) await rm(path.join(dir, old.name), { force: true });
}
