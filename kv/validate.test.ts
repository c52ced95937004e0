import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_KV_LIMITS, defineKvLimits, KV_ERROR_CODES, KvError } from "./index.ts";
import { namespaceTag } from "./redis-keys.ts";
import { INT64_MAX, INT64_MIN, parseInt64 } from "./validate.ts";

const ascii = (text: string) => new TextEncoder().encode(text);

test("parseInt64 accepts exactly what Redis INCRBY accepts", () => {
  const valid: [string, bigint][] = [
    ["0", 0n],
    ["7", 7n],
    ["-7", -7n],
    ["42", 42n],
    [INT64_MAX.toString(), INT64_MAX],
    [INT64_MIN.toString(), INT64_MIN],
  ];
  for (const [input, expected] of valid) assert.equal(parseInt64(ascii(input)), expected, input);
  const invalid = [
    "",
    "-",
    "-0",
    "00",
    "01",
    "+1",
    " 1",
    "1 ",
    "1.0",
    "1e3",
    "0x1",
    "١",
    "9223372036854775808",
  ];
  for (const input of [...invalid, "-9223372036854775809", "1".repeat(21)]) {
    assert.equal(parseInt64(ascii(input)), undefined, JSON.stringify(input));
  }
});

test("namespace tags are distinct for distinct names and hold no separator of their own", () => {
  const names = ["a", "a:b", "b", "b:c", "c", ":", "{", "}", "{}", "%", "%3A", "\0", "🦀", "*", "?", "["];
  const seen = new Map<string, string>();
  for (const tenant of names) {
    for (const bucket of names) {
      const tag = namespaceTag({ tenant, bucket });
      const previous = seen.get(tag);
      assert.equal(previous, undefined, `${tag} for ${JSON.stringify([tenant, bucket])} and ${previous}`);
      seen.set(tag, JSON.stringify([tenant, bucket]));
      // Redis Cluster hashes what lies between the first "{" and the first "}" after it: the whole tag.
      assert.equal(tag.indexOf("}"), tag.length - 1);
      assert.equal(tag.lastIndexOf("{"), 0);
      assert.equal(tag.split(":").length, 3);
    }
  }
});

test("limits are frozen, overridable and checked", () => {
  assert.ok(Object.isFrozen(DEFAULT_KV_LIMITS));
  assert.equal(DEFAULT_KV_LIMITS.maxKeyBytes, 512);
  assert.equal(DEFAULT_KV_LIMITS.maxValueBytes, 25 * 1024 * 1024);
  assert.equal(DEFAULT_KV_LIMITS.maxMetadataBytes, 1024);
  assert.equal(DEFAULT_KV_LIMITS.maxListLimit, 1000);
  assert.equal(DEFAULT_KV_LIMITS.opTimeoutMs, 1000);
  const limits = defineKvLimits({ maxKeyBytes: 64 });
  assert.ok(Object.isFrozen(limits));
  assert.equal(limits.maxKeyBytes, 64);
  assert.equal(limits.maxValueBytes, DEFAULT_KV_LIMITS.maxValueBytes);
  for (const bad of [0, -1, 1.5, Number.NaN])
    assert.throws(() => defineKvLimits({ opTimeoutMs: bad }), RangeError);
  assert.throws(() => defineKvLimits({ maxTtlSeconds: 2 ** 40 }), RangeError);
});

test("every error code has one kind; user errors are the caller's, system errors ours", () => {
  assert.equal(new Set(KV_ERROR_CODES).size, KV_ERROR_CODES.length);
  const system = KV_ERROR_CODES.filter((code) => new KvError(code, "m").kind === "system");
  assert.deepEqual(system.sort(), [
    "ERR_KV_CLOSED",
    "ERR_KV_INTERNAL",
    "ERR_KV_TIMEOUT",
    "ERR_KV_UNAVAILABLE",
  ]);
  const cause = new Error("root");
  const error = new KvError("ERR_KV_KEY_TOO_LONG", "too long", { cause });
  assert.equal(error.cause, cause);
  assert.equal(error.kind, "user");
  assert.ok(error instanceof Error);
});
