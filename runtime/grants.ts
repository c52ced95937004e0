// The runtime's second entry, as a package's subpath export: what an app can be granted, one grant
// per capability that needs one, and nothing that runs guests. The admin API's schemas and
// deploy-cli load this without loading the runtime (its entry costs them 200 ms). A capability
// with a grant names it on its Capability too; capabilities/registry.test.ts checks the two agree.

import type { Grant } from "./capabilities/grants.ts";
import { bucketsGrant, sharedBucketsGrant } from "./capabilities/keyvalue/grant.ts";
import { outboundHostsGrant } from "./capabilities/outbound-http/grant.ts";
import { sqliteDatabasesGrant } from "./capabilities/spin-sqlite/grant.ts";

export const GRANTS: readonly Grant[] = [
  bucketsGrant as Grant,
  sharedBucketsGrant as Grant,
  outboundHostsGrant as Grant,
  sqliteDatabasesGrant as Grant,
];

export {
  distinct,
  type Grant,
  type GrantContext,
  GrantRefused,
  type Grants,
  grantOf,
  type Zod,
} from "./capabilities/grants.ts";
export {
  BUCKET_NAME,
  BUCKET_NAME_RULE,
  type BucketScope,
  bucketNamespace,
  bucketScope,
  bucketsGrant,
  DEFAULT_BUCKETS,
  sharedBucketsGrant,
} from "./capabilities/keyvalue/grant.ts";
export { outboundHostsGrant } from "./capabilities/outbound-http/grant.ts";
export { SQLITE_LABEL, sqliteDatabasesGrant } from "./capabilities/spin-sqlite/grant.ts";
