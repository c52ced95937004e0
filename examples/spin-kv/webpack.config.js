// Spin's JS template's bundling: one ES module, with Spin's and WASI's interfaces left as imports
// for j2w (componentize-js) to bind.
import path from "node:path";
import SpinSdkPlugin from "@fermyon/spin-sdk/plugins/webpack/index.js";

export default {
  entry: "./src/index.js",
  experiments: { outputModule: true },
  output: {
    path: path.resolve(import.meta.dirname, "dist"),
    filename: "bundle.js",
    module: true,
    library: { type: "module" },
  },
  plugins: [new SpinSdkPlugin()],
  optimization: { minimize: false },
  performance: { hints: false },
};
