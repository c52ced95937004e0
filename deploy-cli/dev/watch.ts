// Watching a project for `deploy-cli dev`: one call per burst of changes (debounced), and a hash
// of the sources so that a save that changes nothing (or a touch) does not rebuild.

import { createHash } from "node:crypto";
import { type Dirent, type FSWatcher, watch } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";

/** Folders that are outputs, state or installed packages, never sources. */
export const IGNORED_DIRS = new Set(["node_modules", ".wasmgate", ".git", "dist", ".cache"]);
/** Editors' swap and backup files. */
const IGNORED_FILES = /(?:^|[\\/])(?:\.#.*|#.*#|.*~|.*\.swp|.*\.swx|4913)$/;
/** A project larger than this is not hashed file by file (the hash then changes on every call). */
const MAX_HASHED_FILES = 5000;

export function isIgnored(relative: string, extraIgnored: readonly string[] = []): boolean {
  const parts = relative.split(/[\\/]/);
  if (parts.some((p) => IGNORED_DIRS.has(p))) return true;
  if (extraIgnored.some((dir) => relative === dir || relative.startsWith(`${dir}${path.sep}`))) return true;
  return IGNORED_FILES.test(relative);
}

/** Source files under `dir`, without entering ignored folders; undefined past MAX_HASHED_FILES. */
async function listSources(dir: string, extraIgnored: readonly string[]): Promise<string[] | undefined> {
  const files: string[] = [];
  const walk = async (folder: string): Promise<boolean> => {
    let entries: Dirent[] = [];
    try {
      entries = await readdir(folder, { withFileTypes: true });
    } catch {}
    for (const e of entries) {
      const file = path.join(folder, e.name);
      if (isIgnored(path.relative(dir, file), extraIgnored)) continue;
      if (e.isDirectory()) {
        if (!(await walk(file))) return false;
      } else if (e.isFile()) {
        files.push(file);
        if (files.length > MAX_HASHED_FILES) return false;
      }
    }
    return true;
  };
  return (await walk(dir)) ? files : undefined;
}

/** A digest of every source file under `dir` and of `extra` files (wherever they are). */
export async function sourceHash(
  dir: string,
  extra: readonly string[] = [],
  extraIgnored: readonly string[] = [],
): Promise<string> {
  const files = await listSources(dir, extraIgnored);
  if (files === undefined) return `${Date.now()}-${Math.random()}`;
  const hash = createHash("sha256");
  for (const file of [...new Set([...files, ...extra])].sort()) {
    try {
      const content = await readFile(file);
      hash.update(`\0${file}\0${content.length}\0`);
      hash.update(content);
    } catch {
      // Deleted between listing and reading: the next change event hashes again.
      hash.update(`\0${file}\0gone`);
    }
  }
  return hash.digest("hex");
}

export interface Watcher {
  close(): void;
}

/**
 * Calls `onChange` with the changed paths (relative to `dir`) once no change has come for
 * `debounceMs`. Every folder is watched on its own, not each file: editors that save by writing a
 * new file and renaming it over the old one replace the file, and a watch on the old file would
 * see nothing after the first save. `files` outside `dir` (an entry given by path) are watched
 * through their folder too.
 */
export function watchProject(options: {
  dir: string;
  files?: readonly string[];
  ignored?: readonly string[];
  debounceMs: number;
  onChange(changed: string[]): void;
}): Watcher {
  const changed = new Set<string>();
  const watchers = new Map<string, FSWatcher>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  // Files named explicitly (the entry) count even inside an ignored folder such as dist/.
  const explicit = new Set((options.files ?? []).map((f) => path.resolve(f)));

  const fire = () => {
    timer = undefined;
    const list = [...changed];
    changed.clear();
    options.onChange(list);
  };
  const note = (file: string) => {
    const relative = path.relative(options.dir, file);
    if (!explicit.has(file) && isIgnored(relative, options.ignored)) return;
    changed.add(relative);
    if (timer) clearTimeout(timer);
    timer = setTimeout(fire, options.debounceMs);
  };
  const watchDir = (folder: string, recursive: boolean) => {
    if (closed || watchers.has(folder)) return;
    let watcher: FSWatcher;
    try {
      watcher = watch(folder, (_type, name) => {
        if (!name) return;
        const file = path.join(folder, String(name));
        note(file);
        // A folder created (or moved in) after the start is watched from now on.
        if (recursive && !isIgnored(path.relative(options.dir, file), options.ignored)) {
          void stat(file).then(
            (s) => {
              if (s.isDirectory()) void addTree(file);
            },
            () => {},
          );
        }
      });
    } catch {
      return;
    }
    watcher.on("error", () => {
      watcher.close();
      watchers.delete(folder);
    });
    watchers.set(folder, watcher);
  };
  // Walked by hand so that node_modules and the other ignored folders are never entered.
  const addTree = async (folder: string) => {
    watchDir(folder, true);
    let entries: Dirent[] = [];
    try {
      entries = await readdir(folder, { withFileTypes: true });
    } catch {}
    for (const e of entries) {
      const child = path.join(folder, e.name);
      if (e.isDirectory() && !isIgnored(path.relative(options.dir, child), options.ignored))
        await addTree(child);
    }
  };
  void addTree(options.dir);
  for (const file of explicit) watchDir(path.dirname(file), false);
  return {
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      for (const w of watchers.values()) w.close();
      watchers.clear();
    },
  };
}

export async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}
