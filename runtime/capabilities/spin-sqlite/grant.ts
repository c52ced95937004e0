// The SQLite databases an app's guests may open through Spin's sqlite interface: `sqliteDatabases`
// on the app, `--sqlite-database` on push. A database is the app's own (one file per app and
// label), unlike a bucket, which its tenant's apps share.

import { distinct, type Grant } from "../grants.ts";

/** A label is a file name in the gateway's state directory: nothing but these characters. */
export const SQLITE_LABEL = /^[a-z0-9](?:[a-z0-9_-]{0,62})$/;
export const SQLITE_LABEL_RULE =
  "a database label is 1-63 lower-case letters, digits, '-' or '_', starting with a letter or digit";
/** Most databases one app may be granted. */
export const MAX_SQLITE_DATABASES = 20;
/** A new app's databases: Spin's `default`, which `Sqlite.openDefault()` opens. */
export const DEFAULT_SQLITE_DATABASES: readonly string[] = Object.freeze(["default"]);

export const sqliteDatabasesGrant: Grant<readonly string[]> = {
  field: "sqliteDatabases",
  summary:
    "Spin SQLite databases (labels) the app's guests may open, one file each, on the embedded store only (a new app gets `default`)",
  schema: (z) =>
    z
      .array(z.string().regex(SQLITE_LABEL, SQLITE_LABEL_RULE))
      .max(MAX_SQLITE_DATABASES, `at most ${MAX_SQLITE_DATABASES} SQLite databases per app`),
  initial: DEFAULT_SQLITE_DATABASES,
  accept: (labels) => distinct(labels),
  cli: {
    flag: "sqlite-database",
    value: "<label>",
    help: 'Spin SQLite databases the app may open (repeatable; "sqliteDatabases"; default: default)',
    parse: (values) => values,
  },
};
