/**
 * Where a namespace's entries live in Redis.
 *
 *   {t:<tenant>:<bucket>}v:<key>   the value (a string, with the entry's TTL)
 *   {t:<tenant>:<bucket>}m:<key>   its metadata, when it has some (same TTL)
 *
 * Tenant and bucket are percent-encoded (`encodeURIComponent`), so neither contains `:`, `{` or
 * `}`: the tag parses back to exactly one (tenant, bucket), and Redis Cluster hashes only the
 * tag, keeping a bucket in one slot. The key follows the tag verbatim;
 * it cannot change the tag (Redis hashes the first `{…}` only) nor look like another namespace,
 * since every namespace's keys start with their own tag. Names are well-formed Unicode (checked
 * before), so percent-encoding cannot throw and UTF-8 cannot merge two names.
 */
import type { KvNamespace } from "./store.ts";

export function namespaceTag(ns: KvNamespace): string {
  return `{t:${encodeURIComponent(ns.tenant)}:${encodeURIComponent(ns.bucket)}}`;
}

/** Prefix of every value key of the namespace; the user key follows it. */
export function valuePrefix(ns: KvNamespace): string {
  return `${namespaceTag(ns)}v:`;
}

/** Prefix of every metadata key of the namespace; the user key follows it. */
export function metadataPrefix(ns: KvNamespace): string {
  return `${namespaceTag(ns)}m:`;
}
