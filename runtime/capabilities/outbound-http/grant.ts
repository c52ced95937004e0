// The hosts an app's guests may call: `allowedOutboundHosts` on the app, `--allow-outbound` on
// push. Which special addresses (loopback, private, link-local, metadata…) they may reach is the
// operator's call, not the app's: a tenant's token may name one only inside the ranges the
// operator opened to its tenant. Wildcards and names pass here; what they resolve to is checked
// on every connection.

import { distinct, type Grant, GrantRefused } from "../grants.ts";
import { AddressRanges, namedSpecialAddresses, type OutboundPattern, parseOutboundPattern } from "./hosts.ts";

function refusePrivate(
  pattern: OutboundPattern,
  tenant: { name: string; allowPrivateNetwork: readonly string[] },
) {
  const granted = new AddressRanges(tenant.allowPrivateNetwork);
  const named = namedSpecialAddresses(pattern);
  if (named.length === 0 || named.some((address) => granted.has(address))) return;
  const what = pattern.host === "localhost" || pattern.host.endsWith(".localhost") ? "localhost" : named[0];
  throw new GrantRefused(
    "ERR_OUTBOUND_HOST_PRIVATE",
    `${pattern.raw} names ${what}, a loopback, private, link-local or otherwise special address, which tenant ${tenant.name}'s apps may not call (its private network ranges: ${tenant.allowPrivateNetwork.join(", ") || "none"}); ask the operator to grant the range with deploy-cli tenants update ${tenant.name} --allow-private-network <cidr>`,
  );
}

export const outboundHostsGrant: Grant<readonly string[]> = {
  field: "allowedOutboundHosts",
  summary: "`scheme://host[:port]` patterns the app's guests may call over HTTP (none: no outbound HTTP)",
  schema: (z) => z.array(z.string().max(300)).max(100, "at most 100 allowed outbound hosts per app"),
  initial: Object.freeze([]),
  accept(raw, { role, tenant }) {
    const patterns = raw.map((input) => {
      const pattern = parseOutboundPattern(input);
      if (typeof pattern === "string") throw new GrantRefused("ERR_OUTBOUND_HOST_INVALID", pattern);
      return pattern;
    });
    if (role === "tenant" && tenant) for (const pattern of patterns) refusePrivate(pattern, tenant);
    return distinct(patterns.map((p) => p.raw));
  },
  cli: {
    flag: "allow-outbound",
    value: "<scheme://host[:port]>",
    help: 'hosts the app may call over HTTP (repeatable; "allowedOutboundHosts")',
    parse: (values) => values,
  },
};
