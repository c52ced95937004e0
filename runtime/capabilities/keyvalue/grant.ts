// The buckets an app's guests may open. A bucket is the app's own (`buckets`, `--bucket` on push):
// two apps naming `default` each get their own keys. A tenant-level bucket (`sharedBuckets`,
// `--shared-bucket`) is the tenant's: every app of the tenant that names it sees the same keys.
// Sharing is always explicit: a name listed in both is the tenant's (shared wins, so an app that
// shares `default` needs no other change).

import { distinct, type Grant, type Grants, grantOf } from "../grants.ts";

export const BUCKET_NAME = /^[a-z0-9](?:[a-z0-9_-]{0,62})$/;
export const BUCKET_NAME_RULE =
  "a bucket name is 1-63 lower-case letters, digits, '-' or '_', starting with a letter or digit";
/** A new app's buckets: its own, empty `default`. */
export const DEFAULT_BUCKETS: readonly string[] = Object.freeze(["default"]);
const NONE: readonly string[] = Object.freeze([]);

const bucketList = (z: Parameters<Grant["schema"]>[0]) =>
  z.array(z.string().regex(BUCKET_NAME, BUCKET_NAME_RULE)).max(100, "at most 100 buckets per app");

export const bucketsGrant: Grant<readonly string[]> = {
  field: "buckets",
  summary: "the app's own key-value buckets, which no other app sees (a new app gets an empty `default`)",
  schema: bucketList,
  initial: DEFAULT_BUCKETS,
  accept: (buckets) => distinct(buckets),
  cli: {
    flag: "bucket",
    value: "<name>",
    help: 'the app\'s own key-value buckets (repeatable; "buckets"; default: default)',
    parse: (values) => values,
  },
};

export const sharedBucketsGrant: Grant<readonly string[]> = {
  field: "sharedBuckets",
  summary: "tenant-level key-value buckets, shared by every app of the tenant that names them",
  schema: bucketList,
  initial: NONE,
  accept: (buckets) => distinct(buckets),
  cli: {
    flag: "shared-bucket",
    value: "<name>",
    help: 'tenant-level key-value buckets shared with the tenant\'s other apps (repeatable; "sharedBuckets")',
    parse: (values) => values,
  },
  // Before buckets were the app's own, every bucket an app named was the tenant's. Such a record
  // keeps reading the keys it wrote: its buckets become tenant-level shares, and nothing moves.
  upgrade: (stored) =>
    stored.sharedBuckets !== undefined
      ? undefined
      : { sharedBuckets: stored.buckets ?? DEFAULT_BUCKETS, buckets: NONE },
};

/** Where the keys of a bucket an app opens live: the app's own, or its tenant's when shared. */
export interface BucketScope {
  tenant: string;
  app: string;
  buckets: readonly string[];
  sharedBuckets: readonly string[];
}

/** The buckets app `app` of `tenant` may open, from its grants. */
export function bucketScope(tenant: string, app: string, grants: Grants): BucketScope {
  return {
    tenant,
    app,
    buckets: grantOf(bucketsGrant, grants),
    sharedBuckets: grantOf(sharedBucketsGrant, grants),
  };
}

/**
 * The store namespace of `name` for the app, or undefined when the app is not granted it. An
 * app's own bucket is `<app>/<name>` in the tenant: app and bucket names never contain `/`, so it
 * can be neither another app's bucket nor a tenant-level one (stored under its plain name).
 */
export function bucketNamespace(
  scope: BucketScope,
  name: string,
): { tenant: string; bucket: string } | undefined {
  if (scope.sharedBuckets.includes(name)) return { tenant: scope.tenant, bucket: name };
  if (scope.buckets.includes(name)) return { tenant: scope.tenant, bucket: `${scope.app}/${name}` };
  return undefined;
}
