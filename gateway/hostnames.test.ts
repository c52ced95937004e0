import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { candidatePatterns, hostOf, normalizePattern } from "./hostnames.ts";

describe("hostOf", () => {
  it("drops case, port and a trailing dot", () => {
    assert.equal(hostOf("HELLO.LocalHost:8787"), "hello.localhost");
    assert.equal(hostOf("hello.localhost."), "hello.localhost");
    assert.equal(hostOf("[::1]:8787"), "[::1]");
    assert.equal(hostOf(undefined), "");
  });
});

describe("normalizePattern", () => {
  it("accepts exact hosts and *. wildcards", () => {
    assert.equal(normalizePattern("Shop.Example.com"), "shop.example.com");
    assert.equal(normalizePattern("*.acme.localhost"), "*.acme.localhost");
  });
  it("refuses schemes, ports, paths, bare wildcards and bad labels", () => {
    for (const bad of [
      "http://a.com",
      "a.com:80",
      "a.com/x",
      "*",
      "*.",
      "a.*.com",
      "-a.com",
      "a..com",
      "",
      "a b.com",
    ]) {
      assert.equal(normalizePattern(bad), undefined, bad);
    }
  });
});

describe("candidatePatterns", () => {
  it("lists the host, then wildcards from the most specific parent", () => {
    assert.deepEqual(candidatePatterns("a.b.acme.localhost"), [
      "a.b.acme.localhost",
      "*.b.acme.localhost",
      "*.acme.localhost",
      "*.localhost",
    ]);
    assert.deepEqual(candidatePatterns("localhost"), ["localhost"]);
  });
});
