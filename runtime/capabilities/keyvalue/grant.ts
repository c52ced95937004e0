// The buckets an app's guests may open: `buckets` on the app, `--bucket` on push. A bucket is the
// tenant's: two apps of one tenant granted the same name share its keys.

import { distinct, type Grant } from "../grants.ts";

export const BUCKET_NAME = /^[a-z0-9](?:[a-z0-9_-]{0,62})$/;
export const BUCKET_NAME_RULE =
  "a bucket name is 1-63 lower-case letters, digits, '-' or '_', starting with a letter or digit";
/** A new app's buckets. */
export const DEFAULT_BUCKETS: readonly string[] = Object.freeze(["default"]);

export const bucketsGrant: Grant<readonly string[]> = {
  field: "buckets",
  summary: "key-value buckets the app's guests may open (a new app gets `default`)",
  schema: (z) =>
    z.array(z.string().regex(BUCKET_NAME, BUCKET_NAME_RULE)).max(100, "at most 100 buckets per app"),
  initial: DEFAULT_BUCKETS,
  accept: (buckets) => distinct(buckets),
  cli: {
    flag: "bucket",
    value: "<name>",
    help: 'key-value buckets the app may open (repeatable; "buckets"; default: default)',
    parse: (values) => values,
  },
};
