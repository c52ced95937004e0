/**
 * Builds guest components through the cache in `.cache/guests/` (see guests.ts).
 *
 *   node scripts/build-guests.ts examples|fixtures|all [name…] [--json]
 *
 * Prints one line per guest to stdout (`<kind> <name> built|cached <path>`), or a JSON array with
 * `--json`; progress goes to stderr. Exits 1 on a usage error or a failed build.
 */
import path from "node:path";
import { parseArgs } from "node:util";
import { buildAll, ensureGuest, type GuestBuild, GuestBuildError, type GuestKind } from "./guests.ts";

const USAGE = "usage: node scripts/build-guests.ts examples|fixtures|all [name…] [--json]";
const KINDS: Readonly<Record<string, GuestKind | "all">> = {
  examples: "example",
  fixtures: "fixture",
  all: "all",
};

async function main(): Promise<number> {
  let args: ReturnType<typeof parse>;
  try {
    args = parse();
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
    return 1;
  }
  const [which, ...names] = args.positionals;
  const kind = which === undefined ? undefined : KINDS[which];
  if (kind === undefined || (kind === "all" && names.length > 0)) {
    process.stderr.write(`${USAGE}\n(names may follow "examples" or "fixtures", not "all")\n`);
    return 1;
  }
  let builds: GuestBuild[];
  try {
    builds =
      names.length === 0 || kind === "all"
        ? await buildAll(kind)
        : await Promise.all(names.map((name) => ensureGuest(kind, name)));
  } catch (error) {
    if (error instanceof GuestBuildError) {
      process.stderr.write(`${error.code}: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
  if (args.values.json) {
    process.stdout.write(`${JSON.stringify(builds, null, 2)}\n`);
  } else {
    for (const b of builds) {
      const where = path.relative(process.cwd(), b.distPath ?? b.path);
      process.stdout.write(`${b.kind} ${b.name} ${b.cached ? "cached" : "built"} ${where}\n`);
    }
  }
  return 0;
}

function parse() {
  return parseArgs({ allowPositionals: true, options: { json: { type: "boolean", default: false } } });
}

process.exitCode = await main();
