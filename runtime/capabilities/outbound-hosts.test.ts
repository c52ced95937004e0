import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  explicitlyAllowed,
  isSpecialAddress,
  matchingPatterns,
  type OutboundPattern,
  parseOutboundPattern,
  targetOf,
} from "./outbound-hosts.ts";

function patterns(...raw: string[]): OutboundPattern[] {
  return raw.map((r) => {
    const p = parseOutboundPattern(r);
    assert.notEqual(typeof p, "string", `${r}: ${String(p)}`);
    return p as OutboundPattern;
  });
}
const allows = (list: OutboundPattern[], url: string) =>
  matchingPatterns(list, targetOf(new URL(url))!).length > 0;

describe("outbound host patterns", () => {
  it("refuses what is not scheme://host[:port]", () => {
    for (const bad of [
      "example.com",
      "ftp://example.com",
      "https://example.com/path",
      "https://a.*.com",
      "https://example.com:0",
      "https://example.com:70000",
      "https://[zz::1]",
      "https://*example.com",
    ]) {
      assert.equal(typeof parseOutboundPattern(bad), "string", bad);
    }
  });

  it("matches scheme, host and port, with * for one subdomain level or any port", () => {
    const list = patterns(
      "https://api.example.com",
      "https://*.cdn.example.com",
      "http://127.0.0.1:*",
      "*://svc.internal:8080",
    );
    assert.ok(allows(list, "https://api.example.com/x"));
    assert.ok(allows(list, "https://API.example.com./x"), "case and a trailing dot do not matter");
    assert.ok(!allows(list, "http://api.example.com/"), "scheme must match");
    assert.ok(!allows(list, "https://api.example.com:8443/"), "no port: the scheme's default only");
    assert.ok(allows(list, "https://a.cdn.example.com/"));
    assert.ok(!allows(list, "https://a.b.cdn.example.com/"), "one level only");
    assert.ok(!allows(list, "https://cdn.example.com/"), "the wildcard needs a label");
    assert.ok(allows(list, "http://127.0.0.1:9999/"));
    assert.ok(allows(list, "http://svc.internal:8080/") && allows(list, "https://svc.internal:8080/"));
    assert.ok(!allows(list, "https://evil.com/?api.example.com"));
  });

  it("treats loopback, private, link-local, CGNAT, metadata and mapped addresses as special", () => {
    for (const a of [
      "127.0.0.1",
      "10.1.2.3",
      "172.16.0.1",
      "172.31.255.255",
      "192.168.1.1",
      "169.254.169.254",
      "100.64.0.1",
      "0.0.0.0",
      "::1",
      "::",
      "fc00::1",
      "fd12::1",
      "fe80::1",
      "::ffff:127.0.0.1",
      "::ffff:7f00:1",
      "255.255.255.255",
    ]) {
      assert.ok(isSpecialAddress(a), a);
    }
    for (const a of ["93.184.216.34", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "8.8.8.8"]) {
      assert.ok(!isSpecialAddress(a), a);
    }
  });

  it("lets a pattern that names an address (or localhost) reach it, and nothing else", () => {
    assert.ok(explicitlyAllowed(patterns("http://127.0.0.1:8080"), "127.0.0.1"));
    assert.ok(explicitlyAllowed(patterns("http://127.0.0.1:8080"), "::ffff:127.0.0.1"));
    assert.ok(!explicitlyAllowed(patterns("http://127.0.0.1:8080"), "127.0.0.2"));
    assert.ok(explicitlyAllowed(patterns("http://localhost:*"), "::1"));
    assert.ok(
      !explicitlyAllowed(patterns("http://localhost:*"), "10.0.0.1"),
      "localhost means loopback only",
    );
    assert.ok(explicitlyAllowed(patterns("http://[::1]:80"), "0:0:0:0:0:0:0:1"));
    assert.ok(
      !explicitlyAllowed(
        patterns("http://*:80", "https://*.example.com", "http://internal.example.com"),
        "10.0.0.1",
      ),
    );
  });
});
