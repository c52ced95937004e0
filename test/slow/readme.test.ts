// The README's set-up and five-minute start, run line by line as a newcomer would: on a copy of
// this checkout, with a fresh HOME, a PATH of only Node.js and the system's tools, npm's global
// folder in a scratch directory (as with nvm), and nothing but the README's own commands. The
// commands are read from the README, so a change to it that this script does not follow fails.
//
// Two things are not fresh, to keep the test to a minute: npm's package cache is this machine's
// (an install from the registry itself would take as long again), and the copy's node_modules
// starts as hard links of this checkout's, which `npm install` then checks against the lockfile.

import assert from "node:assert/strict";
import { type ChildProcess, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { dirname, join } from "node:path";
import { after, test } from "node:test";
import { ROOT, tempDir } from "../harness/gateway.ts";
import { waitFor } from "../harness/ops.ts";
import { signalGroup, spawnOwned } from "../harness/process.ts";

/** Which terminal runs each README line, and what a reader waits for before the next one. */
interface Step {
  terminal: 1 | 2 | 3;
  run: string;
  /** Runs on (a server): the next step waits until its output matches this. */
  serves?: RegExp;
  /** Not run here: the line that runs this very suite. */
  skip?: true;
  /** A reader watches the dev terminal for this before the next command. */
  thenWaitForDev?: RegExp;
  /** Then the project `init` wrote is tested with its own `npm test`, as it was written. */
  thenTestProject?: true;
}

const SCRIPT: Step[] = [
  { terminal: 1, run: "npm install && npm link && npm start", serves: /./ },
  { terminal: 1, run: "npm test", skip: true },
  { terminal: 2, run: "deploy-cli login < .wasmgate/operator-token" },
  { terminal: 2, run: "deploy-cli init ../hello-app && cd ../hello-app", thenTestProject: true },
  { terminal: 2, run: "deploy-cli dev", serves: /is live at http:\/\/hello-app\.localhost:8789\// },
  { terminal: 3, run: "curl http://hello-app.localhost:8789/" },
  {
    terminal: 3,
    run: "sed -i 's/from hello-app!/from my edit!/' ../hello-app/src/index.ts",
    thenWaitForDev: /hello-app reloaded in/,
  },
  { terminal: 3, run: "curl http://hello-app.localhost:8789/" },
  { terminal: 3, run: "cd ../hello-app && deploy-cli push" },
  { terminal: 3, run: "curl http://hello-app.localhost:8787/" },
];

interface ReadmeLine {
  command: string;
  /** The `# …` lines under it: what it prints. */
  prints: string[];
}

/** The commands of the `sh` blocks in the README's set-up and five-minute start. */
function readmeCommands(): ReadmeLine[] {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const from = readme.indexOf("## Set up");
  const to = readme.indexOf("\n## ", readme.indexOf("## Five-minute start"));
  assert.ok(from >= 0 && to > from, "the README has a set-up and a five-minute start");
  const lines: ReadmeLine[] = [];
  for (const [, block] of readme.slice(from, to).matchAll(/```sh\n([\s\S]*?)```/g)) {
    for (const line of block!.split("\n")) {
      if (line.trim() === "") continue;
      if (line.startsWith("# ")) lines.at(-1)!.prints.push(line.slice(2));
      else lines.push({ command: line.replace(/\s+# .*$/, ""), prints: [] });
    }
  }
  return lines;
}

const servers: ChildProcess[] = [];
let root: string | undefined;
after(async () => {
  await Promise.all(
    servers.map(
      (s) =>
        new Promise((resolve) => {
          if (s.exitCode !== null || s.signalCode !== null) return resolve(undefined);
          s.once("exit", resolve);
          signalGroup(s, "SIGTERM");
          setTimeout(() => signalGroup(s, "SIGKILL"), 10_000).unref();
        }),
    ),
  );
  if (root) rmSync(root, { recursive: true, force: true });
});

/** A copy of this checkout's files (tracked, and new ones not ignored), as a fresh clone has. */
function copyCheckout(into: string): void {
  const files = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], {
    cwd: ROOT,
    encoding: "utf8",
  })
    .split("\0")
    .filter((f) => f !== "" && existsSync(join(ROOT, f)));
  for (const dir of new Set(files.map((f) => dirname(f)))) mkdirSync(join(into, dir), { recursive: true });
  execFileSync("cp", ["--parents", "-p", ...files, into], { cwd: ROOT });
  execFileSync("cp", ["-al", join(ROOT, "node_modules"), join(into, "node_modules")]);
}

/** Runs a command to its end, in its own process group, and gives what it printed. */
function run(
  command: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawnOwned(command, args, { cwd, env, stdio: "pipe" });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      stdout += chunk;
    });
    child.stderr!.on("data", (chunk: Buffer) => {
      stderr += chunk;
    });
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

test("the README's set-up and five-minute start work as written, on a fresh HOME and PATH", {
  timeout: 600_000,
}, async () => {
  const readme = readmeCommands();
  assert.deepEqual(
    readme.map((l) => l.command),
    SCRIPT.map((s) => s.run),
    "the README's commands are the ones this test runs",
  );
  for (const port of [8787, 8788, 8789]) assert.equal(await portOpen(port), false, `port ${port} is free`);

  root = tempDir("wasmgate-readme-");
  const checkout = join(root, "wasmgate");
  copyCheckout(checkout);
  const home = join(root, "home");
  const globalPrefix = join(root, "npm-global");
  mkdirSync(home);
  const npmCache = execFileSync("npm", ["config", "get", "cache"], { encoding: "utf8" }).trim();
  const env: NodeJS.ProcessEnv = {
    HOME: home,
    PATH: [join(globalPrefix, "bin"), dirname(process.execPath), "/usr/local/bin", "/usr/bin", "/bin"].join(
      ":",
    ),
    LANG: "C.UTF-8",
    npm_config_prefix: globalPrefix,
    npm_config_cache: npmCache,
    npm_config_prefer_offline: "true",
    npm_config_fund: "false",
    npm_config_audit: "false",
    NO_COLOR: "1",
  };
  const cwd = { 1: checkout, 2: checkout, 3: checkout };
  let devOutput = "";
  // TRANSCRIPT=<file> keeps what each command printed, for the tutorial's transcript.
  const transcript: string[] = [];

  for (const [i, step] of SCRIPT.entries()) {
    if (step.skip) continue;
    const { prints } = readme[i]!;
    // bash runs the line as a reader's shell would; the last line of output is where it ended up.
    const script = `${step.run}\nstatus=$?\nprintf '\\n\\0%s' "$PWD"\nexit $status`;
    if (step.serves) {
      const child = spawnOwned("bash", ["-c", step.run], { cwd: cwd[step.terminal], env, stdio: "pipe" });
      servers.push(child);
      let output = "";
      child.stdout!.on("data", (chunk: Buffer) => {
        output += chunk;
        if (step.run === "deploy-cli dev") devOutput += chunk;
      });
      child.stderr!.on("data", (chunk: Buffer) => {
        output += chunk;
      });
      const ready =
        step.run === "deploy-cli dev"
          ? async () => step.serves!.test(output)
          : async () => existsSync(join(checkout, ".wasmgate", "operator-token")) && (await portOpen(8788));
      await waitFor(
        async () => {
          assert.equal(child.exitCode, null, `\`${step.run}\` exited:\n${output}`);
          return ready();
        },
        300_000,
        `\`${step.run}\` serving`,
      );
      continue;
    }
    const seenDev = devOutput.length;
    const result = await run("bash", ["-c", script], cwd[step.terminal], env);
    const [shown, where] = result.stdout.split("\n\0");
    assert.equal(result.code, 0, `\`${step.run}\` failed:\n${result.stdout}${result.stderr}`);
    cwd[step.terminal] = where!;
    transcript.push(`[terminal ${step.terminal}] $ ${step.run}\n${shown}${result.stderr}`);
    if (prints.length > 0) assert.equal(shown!.trimEnd(), prints.join("\n"), `what \`${step.run}\` prints`);
    if (step.thenTestProject) {
      // The project passes its own tests on this machine, before anything in it is changed.
      assert.ok(statSync(join(where!, "wasmgate.json")).isFile());
      const ownTests = await run("npm", ["test"], where!, env);
      assert.equal(ownTests.code, 0, ownTests.stdout + ownTests.stderr);
    }
    if (step.thenWaitForDev) {
      await waitFor(() => step.thenWaitForDev!.test(devOutput.slice(seenDev)), 120_000, "dev's reload");
    }
  }
  if (process.env.TRANSCRIPT) {
    writeFileSync(
      process.env.TRANSCRIPT,
      `${transcript.join("\n")}\n[terminal 2, deploy-cli dev]\n${devOutput}`,
    );
  }
});
