// The peers the benchmarks compare against that are not dependencies of the project: workerd
// (Cloudflare's runtime) and miniflare (Cloudflare's local simulator, on workerd). Installed from
// the npm registry on first use, at pinned versions, into `.cache/bench-peers/<versions>/` (ignored
// by git), so `npm ci` stays light. miniflare runs the workerd it depends on; both are pinned to the
// same release so the two peers run one engine.

import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { ROOT } from "../test/harness/gateway.ts";

const run = promisify(execFile);

/** The versions measured; miniflare 4.20260730.0 depends on exactly this workerd. */
export const PEER_VERSIONS = { workerd: "1.20260730.1", miniflare: "4.20260730.0" } as const;

const DIR = join(
  ROOT,
  ".cache",
  "bench-peers",
  `workerd-${PEER_VERSIONS.workerd}-miniflare-${PEER_VERSIONS.miniflare}`,
);

export interface Peers {
  /** The workerd binary. */
  readonly workerd: string;
  /** miniflare's entry module, for `import()`. */
  readonly miniflare: string;
}

/** Installs the peers unless they are there, and says where they are. */
export async function ensurePeers(): Promise<Peers> {
  const peers = {
    // The platform package's binary itself: the `workerd` package's bin is a launcher for it.
    workerd: join(
      DIR,
      "node_modules",
      "@cloudflare",
      `workerd-${process.platform}-${process.arch === "x64" ? "64" : process.arch}`,
      "bin",
      "workerd",
    ),
    miniflare: join(DIR, "node_modules", "miniflare", "dist", "src", "index.js"),
  };
  if (existsSync(peers.workerd) && existsSync(peers.miniflare)) return peers;
  process.stderr.write(
    `installing workerd ${PEER_VERSIONS.workerd} and miniflare ${PEER_VERSIONS.miniflare} into ${DIR}\n`,
  );
  // Installed beside the final folder and renamed into place, so an interrupted install is never
  // taken for a finished one.
  const tmp = `${DIR}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  await writeFile(
    join(tmp, "package.json"),
    JSON.stringify({ private: true, dependencies: PEER_VERSIONS }, null, 2),
  );
  try {
    await run("npm", ["install", "--no-audit", "--no-fund", "--loglevel", "error"], { cwd: tmp });
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    const stderr = (err as { stderr?: string }).stderr ?? "";
    throw new Error(
      `could not install the benchmark peers from the npm registry (npm install workerd@${PEER_VERSIONS.workerd} miniflare@${PEER_VERSIONS.miniflare}): ${stderr.trim() || (err as Error).message}`,
    );
  }
  await rm(DIR, { recursive: true, force: true });
  await rename(tmp, DIR);
  if (!existsSync(peers.workerd) || !existsSync(peers.miniflare)) {
    throw new Error(`the install into ${DIR} has no ${peers.workerd} or ${peers.miniflare}`);
  }
  return peers;
}
