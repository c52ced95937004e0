// fermyon:spin/sqlite@2.0.0: Spin's SQLite databases on node:sqlite, one file per app and label,
// in the gateway's local data folder (`<state-dir>/spin-sqlite/<tenant>/<app>/<label>.db`, beside
// the embedded key-value file). An app opens only the labels granted to it (`sqliteDatabases`);
// anything else is `access-denied`. A Redis-backed gateway keeps nothing on its own disk, so there
// a component importing this interface is refused at deploy (`refuse`).
//
// Queries run synchronously on the worker thread: their time is the guest's CPU time, so the CPU
// limit bounds them like guest code. Each connection is confined to its one file: no ATTACH (so no
// `VACUUM INTO` either; a plain VACUUM may attach its own scratch database), no TEMP tables, no
// extensions, SQLite's defensive mode, only the pragmas that read or tune nothing outside the
// file, and a size cap (`database-full` past it). Errors are the interface's own variant, never a
// trap.

import { mkdirSync } from "node:fs";
import path from "node:path";
import { constants, DatabaseSync, type SQLInputValue, type SQLOutputValue } from "node:sqlite";
import { grantOf } from "../grants.ts";
import type { Capability, Suspending } from "../types.ts";
import { SQLITE_LABEL, sqliteDatabasesGrant } from "./grant.ts";

type SpinConnection = import("fermyon:spin/sqlite@2.0.0").Connection;
type SqliteError = import("fermyon:spin/sqlite@2.0.0").Error;
type Value = import("fermyon:spin/sqlite@2.0.0").Value;
type QueryResult = import("fermyon:spin/sqlite@2.0.0").QueryResult;

/** Largest database file; writes past it are `database-full`. */
export const SQLITE_MAX_BYTES = 256 * 1024 * 1024;
/** Largest string or blob a value, or a row being built, may be: nothing larger is made in memory. */
export const SQLITE_MAX_VALUE_BYTES = 16 * 1024 * 1024;
/** Most rows one `execute` answers: past it, the call fails rather than fill the worker's memory. */
export const SQLITE_MAX_ROWS = 100_000;
/** Longest statement text. */
export const SQLITE_MAX_STATEMENT_BYTES = 1024 * 1024;
/** How long a write waits for another worker's write to the same file before it fails. */
export const SQLITE_BUSY_TIMEOUT_MS = 250;
/** Databases one worker keeps open; the least recently used is closed past this. */
export const SQLITE_OPEN_MAX = 64;
/** The folder under the local data folder that holds the databases. */
export const SQLITE_DIR = "spin-sqlite";

/**
 * Pragmas a guest may run: they read the schema or tune its own connection, nothing else (not
 * `page_size`, which would stretch the size cap, counted in pages).
 */
const ALLOWED_PRAGMAS: ReadonlySet<string> = new Set([
  "application_id",
  "auto_vacuum",
  "case_sensitive_like",
  "collation_list",
  "data_version",
  "defer_foreign_keys",
  "foreign_key_check",
  "foreign_key_list",
  "foreign_keys",
  "freelist_count",
  "function_list",
  "index_info",
  "index_list",
  "index_xinfo",
  "integrity_check",
  "optimize",
  "page_count",
  "quick_check",
  "recursive_triggers",
  "table_info",
  "table_list",
  "table_xinfo",
  "user_version",
]);

/** What the running request's app may open. */
export interface SqliteApp {
  tenant: string;
  app: string;
  databases: readonly string[];
}

const NO_SQLITE: SqliteApp = Object.freeze({ tenant: "", app: "", databases: Object.freeze([]) });

/** A WIT `result` error: jco turns a thrown `{ payload }` into the `err` case. */
function reject(payload: SqliteError): never {
  throw { payload };
}

/** SQLite's primary result code for "the database or disk is full". */
const SQLITE_FULL = 13;

function sqliteError(err: unknown): SqliteError {
  const e = err as { errcode?: number; message?: string };
  if (typeof e?.errcode === "number" && (e.errcode & 0xff) === SQLITE_FULL) {
    return { tag: "database-full" };
  }
  return { tag: "io", val: (e?.message ?? String(err)).slice(0, 500) };
}

/** `VACUUM` of the database itself, as the whole statement: not `VACUUM INTO`, not of a schema. */
const PLAIN_VACUUM = /^\s*vacuum\s*;?\s*$/i;

/** Only comments, whitespace and semicolons: what may follow the one statement `execute` runs. */
const NOTHING_MORE = /^(?:\s|;|--[^\n]*(?:\n|$)|\/\*[\s\S]*?(?:\*\/|$))*$/;

/** Set while a plain `VACUUM` runs: it attaches a temporary database of its own, named "". */
let vacuuming = false;

/**
 * What creates a TEMP object (`CREATE TEMP TABLE`, or `CREATE TABLE temp.t`, which SQLite reports
 * as a plain create in the schema `temp`): the temporary database is a file outside the size cap.
 */
const TEMP_OBJECTS: ReadonlySet<number> = new Set([
  constants.SQLITE_CREATE_TEMP_TABLE,
  constants.SQLITE_CREATE_TEMP_INDEX,
  constants.SQLITE_CREATE_TEMP_TRIGGER,
  constants.SQLITE_CREATE_TEMP_VIEW,
]);
const CREATES: ReadonlySet<number> = new Set([
  constants.SQLITE_CREATE_TABLE,
  constants.SQLITE_CREATE_INDEX,
  constants.SQLITE_CREATE_TRIGGER,
  constants.SQLITE_CREATE_VIEW,
]);

function authorize(
  action: number,
  first: string | null,
  _second: string | null,
  schema: string | null,
): number {
  if (action === constants.SQLITE_ATTACH) {
    return vacuuming && first === "" ? constants.SQLITE_OK : constants.SQLITE_DENY;
  }
  if (action === constants.SQLITE_DETACH) return vacuuming ? constants.SQLITE_OK : constants.SQLITE_DENY;
  if (TEMP_OBJECTS.has(action) || (schema === "temp" && CREATES.has(action))) return constants.SQLITE_DENY;
  if (action === constants.SQLITE_PRAGMA) {
    return first !== null && ALLOWED_PRAGMAS.has(first.toLowerCase())
      ? constants.SQLITE_OK
      : constants.SQLITE_DENY;
  }
  return constants.SQLITE_OK;
}

/**
 * One worker's open databases, by file. A connection is opened on the first `open` of its label
 * and kept (the instance that opened it is often reused); past SQLITE_OPEN_MAX the least recently
 * used is closed, and a guest's handle to it reopens it on its next call.
 */
export class SqliteFiles {
  readonly #open = new Map<string, DatabaseSync>();
  readonly #maxOpen: number;
  readonly #maxBytes: number;

  constructor(options: { maxOpen?: number; maxBytes?: number } = {}) {
    this.#maxOpen = options.maxOpen ?? SQLITE_OPEN_MAX;
    this.#maxBytes = options.maxBytes ?? SQLITE_MAX_BYTES;
  }

  /** The connection to `file`, opened and confined on first use. Throws node:sqlite's errors. */
  get(file: string): DatabaseSync {
    let db = this.#open.get(file);
    if (db) {
      // Most recently used last.
      this.#open.delete(file);
      this.#open.set(file, db);
      return db;
    }
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    db = new DatabaseSync(file, {
      timeout: SQLITE_BUSY_TIMEOUT_MS,
      allowExtension: false,
      limits: { length: SQLITE_MAX_VALUE_BYTES, sqlLength: SQLITE_MAX_STATEMENT_BYTES },
    });
    try {
      db.exec("PRAGMA journal_mode = WAL");
      db.exec("PRAGMA synchronous = NORMAL");
      const { page_size } = db.prepare("PRAGMA page_size").get() as { page_size: number };
      db.exec(`PRAGMA max_page_count = ${Math.max(1, Math.floor(this.#maxBytes / page_size))}`);
      db.enableDefensive(true);
      db.setAuthorizer(authorize);
    } catch (err) {
      db.close();
      throw err;
    }
    this.#open.set(file, db);
    while (this.#open.size > this.#maxOpen) {
      const [oldest, conn] = this.#open.entries().next().value as [string, DatabaseSync];
      this.#open.delete(oldest);
      conn.close();
    }
    return db;
  }

  /** Closes every connection (a worker shutting down, a test). */
  close(): void {
    for (const db of this.#open.values()) db.close();
    this.#open.clear();
  }
}

function toSql(value: Value): SQLInputValue {
  switch (value.tag) {
    case "integer":
    case "real":
    case "text":
    case "blob":
      return value.val;
    case "null":
      return null;
  }
}

function fromSql(value: SQLOutputValue): Value {
  if (value === null) return { tag: "null" };
  if (typeof value === "bigint") return { tag: "integer", val: value };
  if (typeof value === "number") return { tag: "real", val: value };
  if (typeof value === "string") return { tag: "text", val: value };
  return { tag: "blob", val: value };
}

/** Runs one statement with its parameters; rows come back as Spin's values, in column order. */
export function execute(db: DatabaseSync, statement: string, parameters: Value[]): QueryResult {
  vacuuming = PLAIN_VACUUM.test(statement);
  try {
    const stmt = db.prepare(statement);
    if (!NOTHING_MORE.test(statement.slice(stmt.sourceSQL.length))) {
      throw new Error("execute runs one statement; send the others in calls of their own");
    }
    stmt.setReadBigInts(true);
    stmt.setReturnArrays(true);
    const rows: QueryResult["rows"] = [];
    for (const row of stmt.iterate(...parameters.map(toSql)) as Iterable<SQLOutputValue[]>) {
      if (rows.length === SQLITE_MAX_ROWS) {
        throw new Error(`the result has more than ${SQLITE_MAX_ROWS} rows; ask for fewer (LIMIT, OFFSET)`);
      }
      rows.push({ values: row.map(fromSql) });
    }
    return { columns: stmt.columns().map((c) => c.name), rows };
  } finally {
    vacuuming = false;
  }
}

/** The file of an app's database: every part is checked, so no name can reach another folder. */
export function databaseFile(dir: string, app: SqliteApp, label: string): string | undefined {
  const part = /^[a-z0-9][a-z0-9_-]*$/;
  if (!part.test(app.tenant) || !part.test(app.app) || !SQLITE_LABEL.test(label)) return undefined;
  return path.join(dir, SQLITE_DIR, app.tenant, app.app, `${label}.db`);
}

/**
 * @example
 * const imports = createSqliteImports(() => app, () => "/var/lib/wasmgate", new SqliteFiles());
 * imports["fermyon:spin/sqlite"].Connection.open("default").execute("SELECT 1", []);
 */
export function createSqliteImports(
  current: () => SqliteApp,
  dataDir: () => string | undefined,
  files: SqliteFiles,
) {
  class Connection implements Omit<Suspending<SpinConnection>, typeof Symbol.dispose> {
    readonly #label: string;
    readonly #file: string;
    private constructor(label: string, file: string) {
      this.#label = label;
      this.#file = file;
    }
    static open(label: string): Connection {
      const app = current();
      if (!app.databases.includes(label)) reject({ tag: "access-denied" });
      const dir = dataDir();
      if (dir === undefined) {
        reject({ tag: "io", val: "this gateway keeps no SQLite databases (it is Redis-backed)" });
      }
      const file = databaseFile(dir, app, label);
      if (file === undefined) reject({ tag: "access-denied" });
      try {
        files.get(file);
      } catch (err) {
        reject(sqliteError(err));
      }
      return new Connection(label, file);
    }
    execute(statement: string, parameters: Value[]): QueryResult {
      // An instance outlives requests: a label taken away since it was opened is closed to it.
      if (!current().databases.includes(this.#label)) reject({ tag: "access-denied" });
      try {
        return execute(files.get(this.#file), statement, parameters);
      } catch (err) {
        reject(sqliteError(err));
      }
    }
  }
  return { "fermyon:spin/sqlite": { Connection } };
}

const files = new SqliteFiles();

/** Spin's SQLite interface: one database file per app and granted label. */
export const spinSqlite: Capability<SqliteApp, SqliteApp> = {
  name: "spin-sqlite",
  docs: "runtime/capabilities/spin-sqlite/README.md",
  asyncImports: [],
  imports: ({ current, services }) => createSqliteImports(current, services.localDataDir, files),
  refuse: (imports, host) =>
    host.kv === "redis" && imports.includes("fermyon:spin/sqlite")
      ? "fermyon:spin/sqlite needs the gateway's embedded SQLite store (one database file per app on its own disk); this gateway is Redis-backed, and keeps no files a fleet could share"
      : undefined,
  grants: [sqliteDatabasesGrant],
  forApp: (access) => ({
    tenant: access.tenant,
    app: access.app,
    databases: grantOf(sqliteDatabasesGrant, access.grants),
  }),
  begin: (app) => app,
  idle: NO_SQLITE,
};
