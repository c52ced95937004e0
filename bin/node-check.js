// Plain JavaScript, loaded before anything else: on a Node.js too old to run the TypeScript
// sources, say so in one line instead of a stack trace about ".ts" files.

const [major] = process.versions.node.split(".").map(Number);
if (major < 24) {
  process.stderr.write(
    `wasmgate needs Node.js 24 or newer; you have ${process.versions.node}.\n` +
      "  hint: install Node.js 24 (https://nodejs.org, or your version manager: nvm install 24) and run the command again\n",
  );
  process.exit(1);
}
