#!/usr/bin/env node
import "./node-check.js";

const { main } = await import("../deploy-cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
