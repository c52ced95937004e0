#!/usr/bin/env node
import "./node-check.js";

await import("../gateway/main.ts");
