/**
 * The type check `push` and `dev` run on a TypeScript entry before (or, in dev, beside) its build:
 * the bundled TypeScript compiler (`tsc --noEmit`) on the project's own tsconfig.json. The build
 * only strips types, so without this a type error deploys as if it were fine.
 *
 * The tsconfig.json is the nearest one from the entry's folder up to the project's root (the first
 * folder holding a wasmgate.json or a package.json); a project without one has said nothing about
 * its types and is not checked, and neither is an entry its tsconfig.json does not include.
 *
 * @example
 *   const { tsconfig } = await typeCheck({ entry: "/app/src/index.ts", displayRoot: "/app" });
 *   // throws TypeCheckError with lines like "src/index.ts:3:7 - error TS2322: Type 'string' is …"
 */

import { spawn } from "node:child_process";
import { stat } from "node:fs/promises";
import path from "node:path";
import { BuildToolError } from "./componentize.ts";
import { MissingPackageError, packageInfo } from "./packages.ts";

/** Entries the check runs on; `.js` entries are not TypeScript's to judge. */
const TS_ENTRY = /\.(?:[cm]?ts|tsx)$/i;
/** Files that end the walk up from the entry: the project's root. */
const PROJECT_MARKERS = ["wasmgate.json", "package.json"];
/** A diagnostic as `tsc --pretty false` prints it: `file(line,col): error TSxxxx: message`. */
const DIAGNOSTIC = /^(.+?)\((\d+),(\d+)\): (error|warning) (TS\d+): (.*)$/;

/** The compiler found errors: each is one `file:line:col - error TSxxxx: message` line (or more). */
export class TypeCheckError extends Error {
  override readonly name = "TypeCheckError";
  /** One entry per diagnostic; a message the compiler spreads over lines keeps them. */
  readonly diagnostics: readonly string[];
  /** The tsconfig.json checked, as shown to the user. */
  readonly tsconfig: string;
  constructor(diagnostics: readonly string[], tsconfig: string) {
    super(diagnostics.join("\n"));
    this.diagnostics = diagnostics;
    this.tsconfig = tsconfig;
  }
}

export function isTypeScriptEntry(entry: string): boolean {
  return TS_ENTRY.test(entry);
}

async function isFile(file: string): Promise<boolean> {
  return stat(file).then(
    (s) => s.isFile(),
    () => false,
  );
}

/** The tsconfig.json that governs `entry`, or undefined when its project has none. */
export async function findTsconfig(entry: string): Promise<string | undefined> {
  for (let dir = path.dirname(path.resolve(entry)); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, "tsconfig.json");
    if (await isFile(candidate)) return candidate;
    for (const marker of PROJECT_MARKERS) if (await isFile(path.join(dir, marker))) return undefined;
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** `file:line:col - error TSxxxx: message` for one `--pretty false` diagnostic line. */
export function formatDiagnostic(line: string, from: string, displayRoot: string): string {
  const m = DIAGNOSTIC.exec(line);
  if (!m) return line;
  const [, file, row, col, severity, code, message] = m;
  const shown = path.relative(displayRoot, path.resolve(from, file!)) || file!;
  return `${shown}:${row}:${col} - ${severity} ${code}: ${message}`;
}

/** One line for a failed check: the first diagnostic's message, with its place at the end. */
export function summarizeTypeCheck(err: TypeCheckError): string {
  const first = err.diagnostics[0]?.split("\n")[0] ?? "the type check failed";
  const m = /^(.+?:\d+:\d+) - (.*)$/.exec(first);
  const more = err.diagnostics.length > 1 ? ` (and ${err.diagnostics.length - 1} more)` : "";
  return m ? `${m[2]}${more} (${m[1]})` : `${first}${more}`;
}

/**
 * Type-checks the project of a TypeScript `entry` with its tsconfig.json. Resolves with the
 * tsconfig.json it used (undefined: nothing to check); a type error is a TypeCheckError, a
 * compiler that cannot run a BuildToolError.
 */
export async function typeCheck(options: {
  entry: string;
  /** Paths in the diagnostics are shown relative to this folder (the project). */
  displayRoot: string;
}): Promise<{ tsconfig: string | undefined }> {
  if (!isTypeScriptEntry(options.entry)) return { tsconfig: undefined };
  const tsconfig = await findTsconfig(options.entry);
  if (tsconfig === undefined) return { tsconfig: undefined };
  let tsc: string;
  try {
    const ts = packageInfo("typescript");
    tsc = path.join(ts.dir, ts.bin.tsc ?? "bin/tsc");
  } catch (err) {
    if (err instanceof MissingPackageError) throw new BuildToolError(err.message);
    throw err;
  }
  const cwd = path.dirname(tsconfig);
  const { code, output } = await run(
    process.execPath,
    [tsc, "--noEmit", "--pretty", "false", "--listFiles", "-p", tsconfig],
    cwd,
  );
  const entry = path.resolve(options.entry);
  const listed = output.some((l) => path.isAbsolute(l) && path.resolve(l) === entry);
  const diagnostics: string[] = [];
  for (const line of output) {
    if (/^\s/.test(line) && diagnostics.length > 0) diagnostics[diagnostics.length - 1] += `\n${line}`;
    else if (DIAGNOSTIC.test(line) || /^error TS\d+:/.test(line)) {
      diagnostics.push(formatDiagnostic(line, cwd, options.displayRoot));
    }
  }
  const shown = path.relative(options.displayRoot, tsconfig) || tsconfig;
  // A tsconfig.json the compiler cannot read, or an option it refuses, is the project's to fix
  // even when the entry is not (yet) in the program; other files' errors only when it is.
  const aboutProject = (d: string) => !DIAGNOSTIC_PLACE.test(d) || d.startsWith(`${shown}:`);
  if (diagnostics.length > 0 && (listed || diagnostics.some(aboutProject))) {
    throw new TypeCheckError(diagnostics, shown);
  }
  if (code !== 0 && diagnostics.length === 0) {
    throw new BuildToolError(`tsc exited with ${code}: ${output.slice(-5).join(" ").slice(0, 500)}`);
  }
  return { tsconfig: listed ? tsconfig : undefined };
}

/** A formatted diagnostic that names a place (file:line:col). */
const DIAGNOSTIC_PLACE = /^.+?:\d+:\d+ - /;

function run(
  command: string,
  args: string[],
  cwd: string,
): Promise<{ code: number | null; output: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let text = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      text += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      text += d;
    });
    child.once("error", (err) => reject(new BuildToolError(`tsc could not be started: ${err.message}`)));
    child.once("close", (code) => resolve({ code, output: text.split("\n").filter((l) => l !== "") }));
  });
}
