// spin.toml (Spin's application manifest, version 2), read as `deploy-cli push spin.toml` uses it:
// one wasmgate app whose deployment holds every component with an HTTP route, each on its routes.
//
// What maps to what:
// - `[[trigger.http]] route`/`component` → the deployment's path routes (Spin's syntax and
//   precedence, gateway/routes.ts); `[application.trigger.http] base` prefixes them; private
//   routes (`route = { private = true }`) are only reachable by service chaining, which wasmgate
//   does not have, so they are left out.
// - `key_value_stores` → the app's buckets (a store label is a bucket name), all components'.
// - `sqlite_databases` → the app's SQLite databases (`sqliteDatabases`), all components'.
// - `allowed_outbound_hosts` → the app's outbound allow-list (same syntax), all components'.
// - `[variables]` and each component's `[component.<id>.variables]` → the app's variables, and
//   secrets where a value comes from a `secret = true` variable. Values come, as with Spin's
//   default provider, from `SPIN_VARIABLE_<NAME>` in the environment, else the default.
// - `[component.<id>.build] command` → run with `--build`, in its `workdir`.
// Refused with a clear message: manifest version 1, components fetched by URL or from a
// registry, triggers other than HTTP, a required variable without a value.

import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { parse as parseToml } from "smol-toml";
import { z } from "zod";
import { BUCKET_NAME, SQLITE_LABEL } from "../../gateway/schemas.ts";
import { CliError } from "../errors.ts";

export const SPIN_MANIFEST = "spin.toml";

const Id = z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, "a Spin id is lower-case letters, digits, '-' or '_'");

const Variable = z
  .object({
    default: z.string().optional(),
    required: z.boolean().optional(),
    secret: z.boolean().optional(),
    description: z.string().optional(),
  })
  .strict();

const Component = z
  .object({
    source: z.union([z.string(), z.object({}).passthrough()]),
    description: z.string().optional(),
    files: z.unknown().optional(),
    exclude_files: z.unknown().optional(),
    key_value_stores: z.array(z.string()).optional(),
    sqlite_databases: z.array(z.string()).optional(),
    ai_models: z.array(z.string()).optional(),
    allowed_outbound_hosts: z.array(z.string()).optional(),
    allowed_http_hosts: z.array(z.string()).optional(),
    environment: z.record(z.string(), z.string()).optional(),
    variables: z.record(z.string(), z.string()).optional(),
    build: z
      .object({
        command: z.union([z.string(), z.array(z.string())]),
        workdir: z.string().optional(),
        watch: z.array(z.string()).optional(),
      })
      .passthrough()
      .optional(),
  })
  .passthrough();

const HttpTrigger = z
  .object({
    route: z.union([z.string(), z.object({ private: z.boolean() }).strict()]),
    component: z.union([Id, z.object({}).passthrough()]),
    executor: z.unknown().optional(),
    id: z.string().optional(),
  })
  .passthrough();

const SpinToml = z
  .object({
    spin_manifest_version: z.literal(2, {
      error:
        "only spin_manifest_version = 2 is read (Spin 2 and later); `spin doctor` upgrades older manifests",
    }),
    application: z
      .object({
        name: z.string().min(1),
        version: z.string().optional(),
        description: z.string().optional(),
        authors: z.array(z.string()).optional(),
        trigger: z
          .object({ http: z.object({ base: z.string().optional() }).passthrough().optional() })
          .passthrough()
          .optional(),
      })
      .passthrough(),
    variables: z.record(z.string(), Variable).optional(),
    trigger: z.record(z.string(), z.array(z.unknown())).optional(),
    component: z.record(Id, Component).optional(),
  })
  .passthrough();

/** One component of the app as push uploads it. */
export interface SpinComponent {
  id: string;
  /** The component file, absolute. */
  source: string;
  build?: { command: string; workdir: string };
}

/** What `deploy-cli push spin.toml` does with a manifest. */
export interface SpinApp {
  name: string;
  dir: string;
  /** Components that have at least one route, in manifest order. */
  components: SpinComponent[];
  routes: { route: string; component: string }[];
  buckets: string[];
  sqliteDatabases: string[];
  allowedOutboundHosts: string[];
  /** Variables and secrets to set on the app, by the name components read them by. */
  vars: Record<string, string>;
  secrets: Record<string, string>;
  /** What was left out, one line each, for the user to read. */
  notes: string[];
}

/** The spin.toml `arg` names: the file itself, or a directory holding one; else undefined. */
export async function spinManifestPath(arg: string): Promise<string | undefined> {
  if (path.basename(arg) === SPIN_MANIFEST) return arg;
  try {
    if ((await stat(arg)).isDirectory()) {
      const inside = path.join(arg, SPIN_MANIFEST);
      await stat(inside);
      return inside;
    }
  } catch {}
  return undefined;
}

function invalid(
  file: string,
  message: string,
  hint = "see https://spinframework.dev/v3/manifest-reference",
): CliError {
  return new CliError("ERR_MANIFEST_INVALID", `${file}: ${message}`, { hint });
}

/** Resolves `{{ name }}` in a component variable or host from the app's variables. */
function template(
  file: string,
  text: string,
  values: ReadonlyMap<string, { value: string; secret: boolean }>,
): { value: string; secret: boolean } {
  let secret = false;
  const value = text.replace(/\{\{\s*([a-z0-9_]+)\s*\}\}/g, (_, name: string) => {
    const v = values.get(name);
    if (!v) throw invalid(file, `"${text}" names a variable "${name}" that [variables] does not define`);
    secret ||= v.secret;
    return v.value;
  });
  return { value, secret };
}

/** Reads and checks spin.toml; `env` supplies SPIN_VARIABLE_* values. */
export async function loadSpinApp(file: string, env: NodeJS.ProcessEnv = process.env): Promise<SpinApp> {
  const shown = path.relative(process.cwd(), file) || file;
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw new CliError("ERR_MANIFEST_NOT_FOUND", `no such file: ${shown}`, {
      hint: "pass spin.toml or the folder holding it",
    });
  }
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (err) {
    throw invalid(shown, `not valid TOML: ${(err as Error).message.split("\n")[0]}`);
  }
  const parsed = SpinToml.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
    throw invalid(shown, `${where}${issue.message}`);
  }
  const m = parsed.data;
  const dir = path.dirname(path.resolve(file));
  const notes: string[] = [];

  // The app's variables, each with its value and whether it is secret.
  const values = new Map<string, { value: string; secret: boolean }>();
  for (const [name, v] of Object.entries(m.variables ?? {})) {
    if (!/^[a-z][a-z0-9_]*$/.test(name))
      throw invalid(shown, `variables.${name}: a Spin variable name is lower-case letters, digits and '_'`);
    if (v.required && v.default !== undefined)
      throw invalid(shown, `variables.${name}: a variable is either required or has a default`);
    const fromEnv = env[`SPIN_VARIABLE_${name.toUpperCase()}`];
    const value = fromEnv ?? v.default;
    if (value === undefined) {
      if (v.required) {
        throw new CliError(
          "ERR_MANIFEST_INVALID",
          `${shown}: the variable ${name} is required and has no value`,
          {
            hint: `set SPIN_VARIABLE_${name.toUpperCase()}=<value> in the environment of deploy-cli push`,
          },
        );
      }
      continue;
    }
    values.set(name, { value, secret: v.secret === true });
  }

  const base = m.application.trigger?.http?.base ?? "/";
  const routes: { route: string; component: string }[] = [];
  for (const [type, triggers] of Object.entries(m.trigger ?? {})) {
    if (type !== "http") {
      throw invalid(
        shown,
        `trigger.${type}: wasmgate runs HTTP triggers only`,
        "remove the trigger, or run the app on Spin",
      );
    }
    for (const [i, t] of triggers.entries()) {
      const trigger = HttpTrigger.safeParse(t);
      if (!trigger.success) throw invalid(shown, `trigger.http[${i}]: ${trigger.error.issues[0]!.message}`);
      const { route, component } = trigger.data;
      if (typeof component !== "string") {
        throw invalid(
          shown,
          `trigger.http[${i}]: an inline component table is not read; give it an id under [component.<id>]`,
        );
      }
      if (!m.component?.[component])
        throw invalid(shown, `trigger.http[${i}]: there is no [component.${component}]`);
      if (typeof route !== "string") {
        notes.push(`${component}: its private route is left out (wasmgate has no service chaining)`);
        continue;
      }
      const withBase = `${base.replace(/\/+$/, "")}${route.startsWith("/") ? route : `/${route}`}`;
      routes.push({ route: withBase || "/", component });
    }
  }
  if (routes.length === 0)
    throw invalid(shown, "no [[trigger.http]] has a public route", 'add one, e.g. route = "/..."');

  const routed = new Set(routes.map((r) => r.component));
  const components: SpinComponent[] = [];
  const buckets = new Set<string>();
  const databases = new Set<string>();
  const outbound = new Set<string>();
  const vars: Record<string, string> = {};
  const secrets: Record<string, string> = {};
  const setBy = new Map<string, string>();
  for (const [id, c] of Object.entries(m.component ?? {})) {
    if (!routed.has(id)) continue;
    if (typeof c.source !== "string") {
      throw invalid(
        shown,
        `component.${id}.source: a component fetched by URL or from a registry is not read`,
        "download it and name the file in source",
      );
    }
    const component: SpinComponent = { id, source: path.resolve(dir, c.source) };
    if (c.build) {
      const command = Array.isArray(c.build.command) ? c.build.command.join(" && ") : c.build.command;
      component.build = { command, workdir: path.resolve(dir, c.build.workdir ?? ".") };
    }
    components.push(component);
    for (const store of c.key_value_stores ?? []) {
      if (!BUCKET_NAME.test(store)) {
        throw invalid(
          shown,
          `component.${id}.key_value_stores: "${store}" cannot be a bucket name (lower-case letters, digits, '-', '_')`,
        );
      }
      buckets.add(store);
    }
    for (const host of [...(c.allowed_outbound_hosts ?? []), ...(c.allowed_http_hosts ?? [])]) {
      outbound.add(template(shown, host, values).value);
    }
    for (const label of c.sqlite_databases ?? []) {
      if (!SQLITE_LABEL.test(label)) {
        throw invalid(
          shown,
          `component.${id}.sqlite_databases: "${label}" cannot be a database label (lower-case letters, digits, '-', '_')`,
        );
      }
      databases.add(label);
    }
    if (c.environment && Object.keys(c.environment).length > 0)
      notes.push(`${id}: environment variables are not passed to components here`);
    for (const [key, text] of Object.entries(c.variables ?? {})) {
      const resolved = template(shown, text, values);
      const other = setBy.get(key);
      const previous = vars[key] ?? secrets[key];
      if (other !== undefined && previous !== resolved.value) {
        throw invalid(
          shown,
          `components ${other} and ${id} give the variable ${key} different values; a wasmgate app has one set of variables`,
          "give the variables distinct names, or deploy the components as separate apps",
        );
      }
      setBy.set(key, id);
      (resolved.secret ? secrets : vars)[key] = resolved.value;
    }
  }
  return {
    name: m.application.name,
    dir,
    components,
    routes,
    buckets: [...buckets],
    sqliteDatabases: [...databases],
    allowedOutboundHosts: [...outbound],
    vars,
    secrets,
    notes,
  };
}
