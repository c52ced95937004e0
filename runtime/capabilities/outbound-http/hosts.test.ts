import assert from "node:assert/strict";
import { networkInterfaces } from "node:os";
import { describe, it } from "node:test";
import {
  AddressRanges,
  addressAllowed,
  explicitlyAllowed,
  isLocalAddress,
  isSpecialAddress,
  matchingPatterns,
  NO_LISTENERS,
  namedSpecialAddresses,
  type OutboundPattern,
  parseOutboundPattern,
  targetOf,
} from "./hosts.ts";

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

  it("sees the special IPv4 address inside mapped, compatible, translated, NAT64 and 6to4 forms", () => {
    for (const a of [
      "::ffff:10.0.0.1",
      "::FFFF:A9FE:A9FE", // 169.254.169.254, mapped, upper case
      "::127.0.0.1", // compatible
      "::7f00:1",
      "::ffff:0:127.0.0.1", // translated (RFC 2765)
      "::ffff:0:a9fe:a9fe",
      "0:0:0:0:0:ffff:c0a8:101", // 192.168.1.1, uncompressed
      "64:ff9b::127.0.0.1", // NAT64
      "64:ff9b::a00:1",
      "2002:7f00:1::1", // 6to4 of 127.0.0.1
      "2002:c0a8:101::",
      "64:ff9b:1::1", // local-use NAT64
      "2001:0:4136:e378:8000:63bf:3fff:fdd2", // Teredo
      "fec0::1",
      "fe80::1%eth0",
      "100::1",
    ]) {
      assert.ok(isSpecialAddress(a), a);
    }
    for (const a of [
      "::ffff:8.8.8.8",
      "::ffff:0:8.8.8.8",
      "64:ff9b::8.8.8.8",
      "2002:808:808::1",
      "::8.8.8.8",
    ]) {
      assert.ok(!isSpecialAddress(a), `${a} carries a public address`);
    }
  });

  it("keeps the operator's ranges, matching an address or the IPv4 address it carries", () => {
    const one = new AddressRanges(["127.0.0.1/32"]);
    assert.ok(one.has("127.0.0.1") && one.has("::ffff:127.0.0.1") && one.has("::ffff:0:7f00:1"));
    assert.ok(!one.has("127.0.0.2") && !one.has("::1"));
    const wide = new AddressRanges(["10.0.0.0/8", "fd00::/8", "not a cidr", "10.0.0.0/33"]);
    assert.equal(wide.size, 2, "entries that are not CIDRs are left out");
    assert.ok(wide.has("10.200.0.1") && wide.has("64:ff9b::a00:1") && wide.has("fd12::1"));
    assert.ok(!wide.has("192.168.0.1") && !wide.has("fe80::1"));
    assert.ok(!new AddressRanges([]).has("127.0.0.1"));
    assert.ok(!new AddressRanges(["::/0"]).has("127.0.0.1"), "an IPv6 range holds no IPv4 address");
  });

  it("names the special addresses a pattern spells out, and nothing for names and wildcards", () => {
    const named = (raw: string) => namedSpecialAddresses(patterns(raw)[0]!);
    assert.deepEqual(named("http://localhost:*"), ["127.0.0.1", "::1"]);
    assert.deepEqual(named("http://app.localhost"), ["127.0.0.1", "::1"]);
    assert.deepEqual(named("http://*.localhost:8080"), ["127.0.0.1", "::1"]);
    assert.deepEqual(named("http://127.0.0.1:8788"), ["127.0.0.1"]);
    assert.deepEqual(named("http://127.1"), ["127.0.0.1"], "what a URL reads as 127.0.0.1");
    assert.deepEqual(named("http://0x7f000001:80"), ["127.0.0.1"]);
    assert.deepEqual(named("http://[::ffff:127.0.0.1]:80"), ["::ffff:127.0.0.1"]);
    assert.deepEqual(named("http://[::1]:80"), ["::1"]);
    assert.deepEqual(named("http://169.254.169.254"), ["169.254.169.254"]);
    assert.deepEqual(named("http://10.0.0.1"), ["10.0.0.1"]);
    for (const raw of [
      "http://93.184.216.34",
      "*://*:*",
      "https://*.example.com",
      "https://api.example.com",
    ]) {
      assert.deepEqual(named(raw), [], raw);
    }
  });

  it("refuses special addresses to a tenant unless granted, and the admin port to everyone", () => {
    const listeners = { dataPorts: [8787], adminPorts: [8788] };
    const tenant = { granted: new AddressRanges([]), trustAllowList: false, listeners };
    const granted = { granted: new AddressRanges(["127.0.0.0/8"]), trustAllowList: false, listeners };
    const local = { granted: new AddressRanges([]), trustAllowList: true, listeners };
    const named = patterns("http://127.0.0.1:*", "http://localhost:*");
    const any = patterns("*://*:*");
    assert.ok(addressAllowed(tenant, any, "93.184.216.34", 80));
    assert.ok(addressAllowed(tenant, any, "93.184.216.34", 8788), "another machine's port 8788 is not ours");
    assert.ok(!addressAllowed(tenant, named, "127.0.0.1", 9000), "a tenant's pattern opens nothing");
    assert.ok(!addressAllowed(tenant, any, "::ffff:169.254.169.254", 80));
    assert.ok(addressAllowed(granted, any, "127.0.0.1", 9000));
    assert.ok(!addressAllowed(granted, any, "10.0.0.1", 9000), "outside the grant");
    assert.ok(!addressAllowed(granted, any, "127.0.0.1", 8788), "the admin port, granted range or not");
    assert.ok(!addressAllowed(granted, any, "::ffff:127.0.0.1", 8787), "the data port: default tenant only");
    assert.ok(addressAllowed(local, named, "127.0.0.1", 9000), "the default tenant names it");
    assert.ok(!addressAllowed(local, any, "127.0.0.1", 9000), "a wildcard does not name it");
    assert.ok(addressAllowed(local, named, "127.0.0.1", 8787), "the default tenant calls sibling apps");
    assert.ok(!addressAllowed(local, named, "127.0.0.1", 8788));
    assert.ok(!addressAllowed(local, patterns("http://[::1]:*"), "::1", 8788));
    assert.ok(
      !addressAllowed(local, patterns("http://0.0.0.0:*"), "0.0.0.0", 8788),
      "0.0.0.0 is this machine",
    );
    assert.ok(addressAllowed({ ...local, listeners: NO_LISTENERS }, named, "127.0.0.1", 8788));
  });

  it("counts this machine's interface addresses as local", () => {
    assert.ok(isLocalAddress("127.0.0.5") && isLocalAddress("::1") && isLocalAddress("::ffff:127.0.0.1"));
    assert.ok(isLocalAddress("0.0.0.0") && isLocalAddress("::"));
    assert.ok(!isLocalAddress("93.184.216.34"));
    const own = Object.values(networkInterfaces())
      .flat()
      .find((i) => i && !i.internal);
    if (own) {
      assert.ok(isLocalAddress(own.address), own.address);
      const policy = {
        granted: new AddressRanges(["0.0.0.0/0", "::/0"]),
        trustAllowList: false,
        listeners: { dataPorts: [8787], adminPorts: [8788] },
      };
      assert.ok(!addressAllowed(policy, patterns("*://*:*"), own.address, 8788), "the admin port, always");
      assert.equal(
        addressAllowed(policy, patterns("*://*:*"), own.address, 8787),
        !isSpecialAddress(own.address),
        "the data port: on a public address it is public; behind a private one, not for a tenant",
      );
    }
  });
});
