// Bundles src/ as Spin's http-js template does: esbuild, with Spin's plugin leaving the WIT
// imports of the Spin packages external for j2w to bind.
import { mkdir } from "node:fs/promises";
import { SpinEsbuildPlugin } from "@spinframework/build-tools/plugins/esbuild/index.js";
import { build } from "esbuild";

await build({
  entryPoints: ["./src/index.js"],
  outfile: "./build/bundle.js",
  bundle: true,
  format: "esm",
  platform: "node",
  plugins: [await SpinEsbuildPlugin()],
  logLevel: "error",
});
await mkdir("dist", { recursive: true });
