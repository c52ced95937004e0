/**
 * Types generated from `wit/` by jco, never edited by hand: `npm run gen:types` writes them, and
 * gen-types.test.ts fails when the checked-in files differ from what the WIT gives.
 *
 * - `sdk/generated/`: the WIT modules the SDK imports (world `sdk-guest`), as a guest sees them.
 * - `runtime/capabilities/generated/`: Spin's platform interfaces (world `spin-platform`), as a
 *   guest sees them: what the Spin capabilities' host functions must look like.
 *
 * @example
 *   node scripts/gen-types.ts   # rewrites every generated folder
 */
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { types } from "@bytecodealliance/jco";

const ROOT = path.resolve(import.meta.dirname, "..");

export const TARGETS = [
  { world: "sdk-guest", outDir: "sdk/generated", guest: true },
  { world: "spin-platform", outDir: "runtime/capabilities/generated", guest: true },
] as const;

/** Every generated file, by repository-relative path. */
export async function generate(): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for (const t of TARGETS) {
    const files = (await types(path.join(ROOT, "wit"), {
      worldName: t.world,
      outDir: t.outDir,
      guest: t.guest,
      quiet: true,
    } as never)) as Record<string, Uint8Array>;
    for (const [file, bytes] of Object.entries(files)) {
      out.set(path.posix.normalize(file.replaceAll(path.sep, "/")), bytes);
    }
  }
  return out;
}

/** The files in the generated folders now, by repository-relative path. */
export async function existing(): Promise<string[]> {
  const found: string[] = [];
  async function walk(dir: string): Promise<void> {
    for (const e of await readdir(path.join(ROOT, dir), { withFileTypes: true }).catch(() => [])) {
      const rel = `${dir}/${e.name}`;
      if (e.isDirectory()) await walk(rel);
      else found.push(rel);
    }
  }
  for (const t of TARGETS) await walk(t.outDir);
  return found;
}

if (import.meta.main) {
  for (const t of TARGETS) await rm(path.join(ROOT, t.outDir), { recursive: true, force: true });
  for (const [file, bytes] of await generate()) {
    await mkdir(path.dirname(path.join(ROOT, file)), { recursive: true });
    await writeFile(path.join(ROOT, file), bytes);
  }
  process.stdout.write(`generated ${TARGETS.map((t) => t.outDir).join(", ")}\n`);
}
