// The bundle's source map travels inside the component, as a custom section the engines ignore,
// so a gateway can show a guest's error at the line of the project's own source where it was
// thrown (runtime/guest-error.ts). A custom section is valid anywhere at the top level of a
// component, so it is appended after everything jco wrote.
//
// The map is captured by a plugin in the bundle's configuration, which runs in the build process:
// jco refuses a bundle with assets, so the plugin takes the map file out of the bundle and writes
// it where the build picks it up. Its sources are made relative to the project (`src/index.ts`),
// with no path of the machine that built it, and their contents are left out (only lines and
// columns are looked up).

import { readFile } from "node:fs/promises";

/** The name of the component's custom section holding the source map (JSON). */
export const SOURCE_MAP_SECTION = "wasmgate:source-map";

/** A map larger than this is left out of the component (the gateway keeps none larger). */
export const MAX_SOURCE_MAP_BYTES = 4 * 1024 * 1024;

export interface BundleConfigOptions {
  /** What `wasmgate` resolves to. */
  sdkEntry: string;
  /** Where the source map is written. */
  mapOut: string;
  /** Sources are named relative to this folder (the project). */
  root: string;
  /** Sources under this folder are named `wasmgate/…` (the SDK, wherever it is installed). */
  installRoot: string;
}

/** The text of the Rolldown configuration module jco's bundler loads for a guest build. */
export function bundleConfigSource(options: BundleConfigOptions): string {
  const json = (v: unknown) => JSON.stringify(v);
  return `import { writeFileSync } from "node:fs";
import { basename, dirname, isAbsolute, relative, resolve, sep } from "node:path";
const root = ${json(options.root)};
const installRoot = ${json(options.installRoot)};
const inside = (dir, file) => {
  const rel = relative(dir, file);
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel) ? rel.split(sep).join("/") : undefined;
};
function shown(file) {
  const modules = file.lastIndexOf(sep + "node_modules" + sep);
  if (modules !== -1) return file.slice(modules + 1).split(sep).join("/");
  const own = inside(root, file);
  if (own !== undefined) return own;
  const sdk = inside(installRoot, file);
  return sdk === undefined ? basename(file) : "wasmgate/" + sdk;
}
export default {
  resolve: { alias: { wasmgate: ${json(options.sdkEntry)} } },
  external: [/^wasmgate:/],
  output: {
    sourcemap: "hidden",
    sourcemapExcludeSources: true,
    sourcemapPathTransform: (source, mapPath) => shown(resolve(dirname(mapPath), source)),
  },
  plugins: [{
    name: "wasmgate-source-map",
    generateBundle(_options, bundle) {
      for (const [name, item] of Object.entries(bundle)) {
        if (item.type === "asset") delete bundle[name];
        else if (item.map) writeFileSync(${json(options.mapOut)}, JSON.stringify(item.map));
      }
    },
  }],
};
`;
}

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** `component` with a custom section `name` holding `data` appended. */
export function withCustomSection(component: Uint8Array, name: string, data: Uint8Array): Uint8Array {
  const nameBytes = new TextEncoder().encode(name);
  const content = [...uleb(nameBytes.byteLength), ...nameBytes];
  const size = content.length + data.byteLength;
  const header = Uint8Array.from([0x00, ...uleb(size), ...content]);
  const out = new Uint8Array(component.byteLength + header.byteLength + data.byteLength);
  out.set(component, 0);
  out.set(header, component.byteLength);
  out.set(data, component.byteLength + header.byteLength);
  return out;
}

/**
 * The component at `file` with the source map at `mapFile` embedded, or undefined when the
 * bundler wrote none (or one too large to carry).
 */
export async function embedSourceMap(file: string, mapFile: string): Promise<Uint8Array | undefined> {
  let map: Buffer;
  try {
    map = await readFile(mapFile);
  } catch {
    return undefined;
  }
  if (map.byteLength > MAX_SOURCE_MAP_BYTES) return undefined;
  return withCustomSection(await readFile(file), SOURCE_MAP_SECTION, map);
}
