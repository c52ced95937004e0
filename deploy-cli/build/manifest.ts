// wasmgate.json: what `deploy-cli push` and `deploy-cli dev` read so a project needs no flags.
// Command-line flags win over it.

import { readFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { AppLimits, AppName, BucketName, GRANTS } from "../../gateway/schemas.ts";
import { CliError } from "../errors.ts";

export const MANIFEST_FILE = "wasmgate.json";

const BindingName = z
  .string()
  .regex(/^[A-Za-z_$][A-Za-z0-9_$]*$/, "a binding name is a JavaScript identifier, such as KV");

export const Manifest = z
  .object({
    $schema: z.string().optional(),
    /** The app's name on the gateway. */
    name: AppName,
    /** The guest's entry module (.ts or .js), or a built .wasm component. */
    main: z.string().min(1).optional(),
    hostnames: z.array(z.string()).optional(),
    /** What the app is granted: one field per capability grant, as in `PUT /v1/apps/:app`. */
    ...Object.fromEntries(GRANTS.map((g) => [g.field, g.schema(z).optional()])),
    /**
     * Key-value buckets the app may open: a list of names, or binding → bucket
     * (`{"KV": "default"}` gives SDK guests `env.KV`).
     */
    buckets: z.union([z.array(BucketName), z.record(BindingName, BucketName)]).optional(),
    /** Variables set on the app when it is pushed (and in `deploy-cli dev`). */
    vars: z.record(z.string(), z.string()).optional(),
    limits: AppLimits.optional(),
    /**
     * Path routes, each to an entry (built like `main`): `{"/api/...": "src/api.ts", "/...":
     * "src/web.ts"}`. Spin's route syntax and precedence; with routes, `main` is not used.
     */
    routes: z.record(z.string(), z.string().min(1)).optional(),
    /** Build for the fast world with QuickJS (the entry exports `handler`). */
    fast: z.boolean().optional(),
    /** The WIT world to build against, for entries that are not SDK guests. */
    world: z.string().optional(),
  })
  .strict();
export type Manifest = z.infer<typeof Manifest>;

export interface LoadedManifest {
  manifest: Manifest;
  /** Absolute path of the file. */
  file: string;
  /** Its folder: relative paths in it are relative to this. */
  dir: string;
}

/** Reads `file`, or `wasmgate.json` in `dir` when there is one; undefined when there is none. */
export async function loadManifest(options: {
  file?: string | undefined;
  dir: string;
}): Promise<LoadedManifest | undefined> {
  const file = path.resolve(options.dir, options.file ?? MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" && options.file === undefined) return undefined;
    if (code === "ENOENT") {
      throw new CliError("ERR_MANIFEST_NOT_FOUND", `no such manifest: ${options.file}`, {
        hint: "pass the path of a wasmgate.json, or create one with `deploy-cli init`",
      });
    }
    if (code === "EISDIR") {
      throw new CliError("ERR_MANIFEST_INVALID", `${file} is a directory, not a wasmgate.json`);
    }
    throw err;
  }
  return { manifest: parseManifest(text, file), file, dir: path.dirname(file) };
}

export function parseManifest(text: string, file: string): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CliError("ERR_MANIFEST_INVALID", `${file} is not valid JSON: ${(err as Error).message}`, {
      hint: "fix the file; `deploy-cli init` writes an example",
    });
  }
  const parsed = Manifest.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length > 0 ? `"${issue.path.join(".")}": ` : "";
    throw new CliError("ERR_MANIFEST_INVALID", `${file}: ${where}${issue.message}`, {
      hint: `fields: ${Object.keys(Manifest.shape)
        .filter((f) => f !== "$schema")
        .join(", ")}`,
    });
  }
  return parsed.data;
}

/**
 * The grant fields the manifest sets, as `PUT /v1/apps/:app` takes them. A grant given as a
 * binding → value map (`buckets` for SDK guests) grants its values.
 */
export function grantsOf(manifest: Manifest | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { field } of GRANTS) {
    const raw = (manifest as Record<string, unknown> | undefined)?.[field];
    if (raw === undefined) continue;
    out[field] =
      Array.isArray(raw) || typeof raw !== "object" || raw === null ? raw : [...new Set(Object.values(raw))];
  }
  return out;
}

/** Bucket names the app is granted, and the SDK bindings (binding → bucket). */
export function bucketsOf(manifest: Manifest | undefined): {
  buckets: string[];
  bindings: Record<string, string>;
} {
  const raw = manifest?.buckets;
  if (raw === undefined) return { buckets: [], bindings: {} };
  if (Array.isArray(raw)) return { buckets: raw, bindings: {} };
  return { buckets: [...new Set(Object.values(raw))], bindings: raw };
}

/**
 * The app an app command means when it is given no `--app`: `--app`, else the `name` of the
 * nearest wasmgate.json in the current directory or one of its parents, else undefined.
 */
export async function appOf(
  values: Record<string, unknown>,
  from = process.cwd(),
): Promise<string | undefined> {
  const given = values.app as string | undefined;
  if (given !== undefined) return given;
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    const found = await loadManifest({ dir });
    if (found) return found.manifest.name;
    if (path.dirname(dir) === dir) return undefined;
  }
}
