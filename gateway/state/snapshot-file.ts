// A JSON file that keeps the last of something the gateway loaded from the state store, for a
// gateway that starts during an outage: written at most once a second (a burst of changes writes
// once), to a temporary file renamed into place, readable only by the gateway's user.

import { readFile, rename, writeFile } from "node:fs/promises";

/** At most one write per this many milliseconds. */
const WRITE_EVERY_MS = 1_000;

export interface SnapshotFile<T> {
  /** Writes `value()` soon; calls before that write collapse into it. */
  schedule(): void;
  /** What the file holds, or undefined when there is none or it cannot be read. */
  read(): Promise<T | undefined>;
}

export function snapshotFile<T>(
  file: string,
  value: () => T,
  onError: (err: unknown) => void,
): SnapshotFile<T> {
  let due: NodeJS.Timeout | undefined;
  return {
    schedule() {
      if (due) return;
      due = setTimeout(() => {
        due = undefined;
        const tmp = `${file}.tmp-${process.pid}`;
        writeFile(tmp, JSON.stringify(value()), { mode: 0o600 })
          .then(() => rename(tmp, file))
          .catch(onError);
      }, WRITE_EVERY_MS);
      due.unref();
    },
    async read() {
      try {
        return JSON.parse(await readFile(file, "utf8")) as T;
      } catch {
        return undefined;
      }
    },
  };
}
