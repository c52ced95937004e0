// The layout check: which file may import which. Run `node scripts/layout.ts` (exit 1 and one
// line per problem), or through scripts/layout.test.ts in `npm test`.
//
// The rules:
// - no import cycle between files (a type-only import counts: a cycle of types is a cycle of
//   design, and one edit from a cycle at run time);
// - runtime/ and kv/ never import gateway/ or deploy-cli/, and kv/ never imports runtime/;
// - a top-level module's files are imported from outside it only through its entries (below);
//   deploy-cli's only way into the gateway is its entry and its schema module;
// - tests, benchmarks and scripts may reach inside modules: they test and measure them.

import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

/** Each module's entries: the files other modules may import. */
export const ENTRIES: Readonly<Record<string, readonly string[]>> = {
  // grants.ts: what an app can be granted, without loading what runs guests (see its header).
  runtime: ["runtime/index.ts", "runtime/grants.ts"],
  kv: ["kv/index.ts"],
  // schemas.ts: the admin API's request and response shapes, which deploy-cli shares.
  gateway: ["gateway/index.ts", "gateway/schemas.ts"],
  "deploy-cli": ["deploy-cli/main.ts"],
  sdk: ["sdk/index.ts"],
};

/** Modules a module may never import. */
const FORBIDDEN: Readonly<Record<string, readonly string[]>> = {
  runtime: ["gateway", "deploy-cli"],
  kv: ["gateway", "deploy-cli", "runtime"],
  sdk: ["gateway", "deploy-cli", "runtime", "kv"],
};

/** Where checking stops: code that exists to test, measure or document the modules. */
function exempt(file: string): boolean {
  return /(^|\/)(test|bench|scripts)\//.test(file) || file.endsWith(".test.ts") || !file.includes("/");
}

/** The relative imports of a TypeScript source: static, re-exports and literal dynamic ones. */
export function importsOf(source: string): string[] {
  const found = new Set<string>();
  const text = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const patterns = [
    /\b(?:import|export)\s+(?:type\s+)?[^'";]*?\bfrom\s*["']([^"']+)["']/g,
    /\bimport\s*["']([^"']+)["']/g,
    /\bimport\(\s*["']([^"']+)["']\s*\)/g,
  ];
  for (const pattern of patterns) for (const m of text.matchAll(pattern)) found.add(m[1]!);
  return [...found].filter((spec) => spec.startsWith("."));
}

/** Files (repository-relative, `/`-separated) and the files each imports. */
export type ImportGraph = ReadonlyMap<string, readonly string[]>;

/** The import graph of the repository's TypeScript files under `root`. */
export function readGraph(root: string): ImportGraph {
  const graph = new Map<string, string[]>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const rel = dir ? `${dir}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (!entry.name.startsWith(".") && entry.name !== "node_modules" && entry.name !== "generated")
          walk(rel);
      } else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) {
        const source = readFileSync(path.join(root, rel), "utf8");
        graph.set(
          rel,
          importsOf(source).map((spec) =>
            path.posix.normalize(path.posix.join(path.posix.dirname(rel), spec)),
          ),
        );
      }
    }
  };
  walk("");
  return graph;
}

const moduleOf = (file: string): string => file.split("/")[0]!;

/** Every import cycle, each as the files along it (the first one repeated at the end). */
export function cycles(graph: ImportGraph): string[][] {
  // Tarjan's strongly connected components; a component of more than one file holds a cycle.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (file: string) => {
    index.set(file, next);
    low.set(file, next++);
    stack.push(file);
    onStack.add(file);
    for (const to of graph.get(file) ?? []) {
      if (!graph.has(to)) continue;
      if (!index.has(to)) {
        visit(to);
        low.set(file, Math.min(low.get(file)!, low.get(to)!));
      } else if (onStack.has(to)) low.set(file, Math.min(low.get(file)!, index.get(to)!));
    }
    if (low.get(file) !== index.get(file)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== file);
    const self = (graph.get(file) ?? []).includes(file);
    if (component.length > 1 || self) found.push(pathThrough(graph, new Set(component), file));
  };
  for (const file of [...graph.keys()].sort()) if (!index.has(file)) visit(file);
  return found;
}

/** One cycle through `start` inside `component`, for the message. */
function pathThrough(graph: ImportGraph, component: ReadonlySet<string>, start: string): string[] {
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const file = queue.shift()!;
    for (const to of graph.get(file) ?? []) {
      if (to === start) {
        const way = [start];
        for (let at = file; at !== start; at = previous.get(at)!) way.splice(1, 0, at);
        return [...way, start];
      }
      if (component.has(to) && !previous.has(to)) {
        previous.set(to, file);
        queue.push(to);
      }
    }
  }
  return [start, start];
}

/** What is wrong with the layout, one line per problem; empty when nothing is. */
export function check(graph: ImportGraph): string[] {
  const problems: string[] = [];
  for (const cycle of cycles(graph)) problems.push(`import cycle: ${cycle.join(" → ")}`);
  for (const [file, imports] of [...graph].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (exempt(file)) continue;
    const from = moduleOf(file);
    for (const to of imports) {
      const target = moduleOf(to);
      if (target === from || !(target in ENTRIES)) continue;
      if (FORBIDDEN[from]?.includes(target)) {
        problems.push(`${file} imports ${to}: ${from}/ never imports ${target}/`);
      } else if (!ENTRIES[target]!.includes(to)) {
        problems.push(
          `${file} imports ${to}: ${target}/ is imported through ${ENTRIES[target]!.join(" or ")} only`,
        );
      }
    }
  }
  return problems;
}

if (import.meta.main) {
  const problems = check(readGraph(path.resolve(import.meta.dirname, "..")));
  for (const problem of problems) console.error(problem);
  if (problems.length > 0) {
    console.error(`${problems.length} layout problem(s); the rules are at the top of scripts/layout.ts`);
    process.exitCode = 1;
  } else console.log("layout: no import cycles, no forbidden imports, every module entered by its entries");
}
