// deploy-cli init: a new TypeScript guest project, ready for `deploy-cli dev` and `deploy-cli push`.

import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { APP_NAME } from "../../gateway/schemas.ts";
import { INSTALL_ROOT, packageInfo } from "../build/packages.ts";
import type { Command } from "../command.ts";
import { CliError, usage } from "../errors.ts";
import { DEV_PORT } from "./dev.ts";

const SDK_TYPES = path.join(INSTALL_ROOT, "sdk", "types.ts");

/** The SDK's types as an ambient module, so editors resolve `import … from "wasmgate"`. */
export async function sdkDeclarations(): Promise<string> {
  const source = await readFile(SDK_TYPES, "utf8");
  // The file opens with a comment for this repository; the project gets its own.
  const body = source.replace(/^(?:\/\/.*\n)+\n?/, "");
  const indented = body
    .trimEnd()
    .split("\n")
    .map((line) => (line === "" ? "" : `  ${line}`))
    .join("\n");
  return `// Types of the wasmgate guest SDK, written by \`deploy-cli init\`. The build resolves "wasmgate"
// to the SDK itself; this file only tells your editor and tsc what it offers.

declare module "wasmgate" {
${indented}
}
`;
}

function files(app: string): Record<string, string> {
  const manifest = {
    name: app,
    main: "src/index.ts",
    hostnames: [`${app}.localhost`],
    buckets: { KV: "default" },
    vars: { GREETING: "Hello" },
    limits: { cpuMs: 50 },
  };
  return {
    "wasmgate.json": `${JSON.stringify(manifest, null, 2)}\n`,
    "src/index.ts": `// A wasmgate guest: a fetch handler, as on Cloudflare Workers. \`deploy-cli dev\` serves it at
// http://${app}.localhost:${DEV_PORT}/ and reloads it on every save; \`deploy-cli push\` deploys it.
import type { ExecutionContext, KVNamespace } from "wasmgate";

export interface Env {
  /** The app's "default" key-value bucket ("buckets" in wasmgate.json). */
  KV: KVNamespace;
  /** A variable ("vars" in wasmgate.json, or \`deploy-cli vars set GREETING …\`). */
  GREETING?: string;
}

export default {
  async fetch(request: Request, env: Env, _ctx: ExecutionContext): Promise<Response> {
    const { pathname } = new URL(request.url);
    const visits = await env.KV.increment(\`visits:\${pathname}\`);
    const times = visits === 1 ? "1 visit" : \`\${visits} visits\`;
    return new Response(\`\${env.GREETING ?? "Hello"} from ${app}! \${pathname} has had \${times}.\\n\`, {
      headers: { "content-type": "text/plain; charset=utf-8" },
    });
  },
};
`,
    "test/app.test.ts": `// Serves the app as \`deploy-cli dev\` does (a real build, the local gateway, key-value data kept
// for this run only) and checks its answers. Run it with \`npm test\` (Node.js 24 or newer).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { request } from "node:http";
import { createInterface } from "node:readline";
import { after, before, test } from "node:test";

const dev = spawn("deploy-cli", ["dev", "--port", "0", "--no-persist", "--no-watch", "--json"], {
  cwd: new URL("..", import.meta.url),
  stdio: ["ignore", "pipe", "inherit"],
});
let port = 0;

before(async () => {
  port = await new Promise<number>((resolve, reject) => {
    dev.on("error", reject);
    dev.on("exit", (code) => reject(new Error(\`deploy-cli dev exited with \${code}\`)));
    createInterface({ input: dev.stdout }).on("line", (line) => {
      const event = JSON.parse(line);
      if (event.event !== "ready") return;
      if (event.live) resolve(event.port);
      else reject(new Error("the app did not build"));
    });
  });
});

after(() => {
  dev.kill();
});

/** *.localhost needs no DNS in browsers and curl; Node asks the system, so name the app in Host. */
function get(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, headers: { host: "${app}.localhost" } }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (chunk) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject).end();
  });
}

test("GET / greets and counts visits", async () => {
  const first = await get("/");
  assert.equal(first.status, 200);
  assert.equal(first.body, "Hello from ${app}! / has had 1 visit.\\n");
  assert.equal((await get("/")).body, "Hello from ${app}! / has had 2 visits.\\n");
});
`,
    "tsconfig.json": `${JSON.stringify(
      {
        compilerOptions: {
          target: "es2022",
          module: "esnext",
          moduleResolution: "bundler",
          lib: ["es2022", "dom", "dom.iterable"],
          types: [],
          strict: true,
          noEmit: true,
          skipLibCheck: true,
        },
        include: ["src", "wasmgate.d.ts"],
      },
      null,
      2,
    )}\n`,
    "package.json": `${JSON.stringify(
      {
        name: app,
        private: true,
        type: "module",
        scripts: {
          dev: "deploy-cli dev",
          deploy: "deploy-cli push",
          check: "tsc --noEmit",
          test: "node --test",
        },
        // The compiler deploy-cli checks the types with, for the editor and `npm run check`.
        devDependencies: { typescript: `^${packageInfo("typescript").version}` },
      },
      null,
      2,
    )}\n`,
    ".gitignore": "node_modules/\n.wasmgate/\n",
  };
}

export const init: Command = {
  name: "init",
  summary: "create a TypeScript guest project in a new folder",
  usage: "init <dir> [--name <app>]",
  details: `Writes src/index.ts (a fetch handler using env.KV and a variable), wasmgate.json (app name,
hostnames, buckets, variables, limits), tsconfig.json and wasmgate.d.ts (the SDK's types for your
editor), test/app.test.ts (runs the app with \`deploy-cli dev\`), package.json (with TypeScript as a
dev dependency and a \`check\` script: the type check push and dev run before each build) and
.gitignore. The app is named after the folder unless --name says otherwise. The folder must be new
or empty.`,
  examples: ["deploy-cli init hello-app", "deploy-cli init . --name my-api", "deploy-cli init shop --json"],
  options: { name: { type: "string" } },
  async run(ctx) {
    const [dirArg, ...extra] = ctx.args;
    if (dirArg === undefined) throw usage("init needs the folder to create, e.g. deploy-cli init hello-app");
    if (extra.length > 0) throw usage(`init takes one folder, not ${ctx.args.length}`);
    const dir = path.resolve(dirArg);
    const fromDir = path
      .basename(dir)
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, "-")
      .replace(/^-+|-+$/g, "");
    const app = (ctx.values.name as string | undefined) ?? fromDir;
    if (!APP_NAME.test(app)) {
      throw new CliError(
        "ERR_USAGE",
        `"${app}" is not an app name: 1-63 lower-case letters, digits or dashes`,
        {
          hint: "pass --name <app>, e.g. --name hello-app",
        },
      );
    }
    const existing = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return [];
      if (err.code === "ENOTDIR") {
        throw new CliError("ERR_NOT_A_DIRECTORY", `${dirArg} exists and is not a folder`, {
          hint: "pick a new folder name",
        });
      }
      throw err;
    });
    if (existing.length > 0) {
      throw new CliError("ERR_DIR_NOT_EMPTY", `${dirArg} already exists and is not empty`, {
        hint: "pick a new folder name, or empty this one first",
      });
    }
    const written = { ...files(app), "wasmgate.d.ts": await sdkDeclarations() };
    for (const [name, content] of Object.entries(written)) {
      await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
      await writeFile(path.join(dir, name), content);
    }
    const shown = path.relative(process.cwd(), dir) || ".";
    const cd = shown === "." ? "" : `cd ${shellWord(shown)} && `;
    const next = [
      [`${cd}deploy-cli dev`, `serves http://${app}.localhost:${DEV_PORT}/ and reloads on save`],
      ["deploy-cli push", "deploys it to your gateway (deploy-cli login first)"],
    ];
    const width = Math.max(...next.map(([command]) => command!.length)) + 2;
    ctx.result(
      { dir, app, files: Object.keys(written).sort() },
      `Created ${app} in ${shown}:\n${Object.keys(written)
        .sort()
        .map((f) => `  ${f}\n`)
        .join(
          "",
        )}\nNext:\n${next.map(([command, what]) => `  ${command!.padEnd(width)}# ${what}\n`).join("")}`,
    );
  },
};

/** `word` as one POSIX shell word: as it is when it is safe, else single-quoted. */
export function shellWord(word: string): string {
  return /^[\w./@%+=:,-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}
