// What to do next, for each refusal the gateway answers a command with (and for the checks
// deploy-cli makes before it builds): the `hint:` line under the error. hints.test.ts fails when
// a code the gateway or the runtime can answer with has no hint here and is not listed in NO_HINT
// with the reason.

export const HINTS: Readonly<Record<string, string>> = {
  // Authentication and authorization.
  ERR_AUTH_MISSING:
    "run `deploy-cli login`, pass --token or set WASMGATE_TOKEN, or run next to the gateway's state directory",
  ERR_AUTH_INVALID: "the token is malformed; copy it again from the gateway's operator-token file",
  ERR_AUTH_BAD_SIGNATURE: "the token was not issued by this gateway; use this gateway's operator-token",
  ERR_AUTH_ALG_NOT_ALLOWED:
    "the token is signed with an algorithm this gateway does not accept; ask for a new one",
  ERR_AUTH_EXPIRED:
    "the token has expired: ask the operator for a new one (`deploy-cli tokens create`), then `deploy-cli login`",
  ERR_AUTH_CLAIM_INVALID:
    "the token's claims are not what this gateway issues; ask the operator for a new one",
  ERR_AUTH_NOT_YET_VALID: "the token is not valid yet; check this machine's clock, or wait",
  ERR_AUTH_WRONG_ISSUER:
    "the token was issued for another gateway or identity provider; use one issued for this one",
  ERR_AUTH_WRONG_AUDIENCE: "the token is meant for another audience; ask for one issued for this gateway",
  ERR_AUTH_REVOKED:
    "the token was revoked: ask the operator for a new one (`deploy-cli tokens create`), then `deploy-cli login`",
  ERR_FORBIDDEN:
    "a tenant's token reaches only its own tenant's apps; use a token of the app's tenant, or the operator's",
  ERR_SCOPE_MISSING: "the token lacks the scope this needs; ask the operator for a token with it",
  // Apps, hostnames and deployments.
  ERR_APP_NOT_FOUND: "list the apps with `deploy-cli apps list`; `deploy-cli push --host <name>` creates one",
  ERR_APP_AMBIGUOUS:
    "name the app's tenant with --tenant <name> (or WASMGATE_TENANT); `deploy-cli apps list` shows each app's tenant",
  ERR_APP_NOT_DEPLOYED: "deploy it with `deploy-cli push --app <name>`",
  ERR_DEPLOYMENT_NOT_FOUND: "list the app's deployments with `deploy-cli deployments list --app <name>`",
  ERR_HOST_NOT_FOUND:
    "that answer came from the data plane: point --gateway at the admin API (default port 8788)",
  ERR_PATH_NOT_ROUTED: "the app's routes are listed by `deploy-cli deployments list --app <name>`",
  ERR_ROUTE_NOT_FOUND: "`deploy-cli --help` lists the commands; the admin API's routes are in docs/reference",
  ERR_HOSTNAME_INVALID: "a hostname is like shop.example.com, or *.example.com for every name under it",
  ERR_HOSTNAME_TAKEN:
    "pick another hostname, or free it: `deploy-cli apps list` shows which of your apps holds it",
  ERR_HOSTNAME_NOT_GRANTED:
    "use a hostname under the tenant's grants (`deploy-cli tenants list` shows them), or ask the operator to grant it",
  ERR_QUOTA_EXCEEDED:
    "delete an app you no longer need (`deploy-cli apps delete`), or ask the operator to raise the quota",
  ERR_TENANT_NOT_FOUND: "list the tenants with `deploy-cli tenants list`",
  ERR_TENANT_HAS_APPS: "delete the tenant's apps first (`deploy-cli apps list` shows them)",
  ERR_TOKEN_NOT_FOUND: "list the tokens with `deploy-cli tokens list`",
  // Components.
  ERR_COMPONENT_NOT_WASM:
    "push a WebAssembly component (.wasm), or a .ts/.js entry for deploy-cli to build (`deploy-cli push src/index.ts`)",
  ERR_COMPONENT_EMPTY:
    "the file is empty: build the guest again (`deploy-cli push src/index.ts` builds it for you)",
  ERR_COMPONENT_INVALID:
    "the file is not a valid component: build it again, and check it with `wasm-tools validate`",
  ERR_COMPONENT_CORE_MODULE: "build a component: `jco componentize` or `wasm-tools component new`",
  ERR_COMPONENT_NO_HANDLER:
    "the component must export wasi:http/incoming-handler (a StarlingMonkey guest exports `incomingHandler` or uses addEventListener('fetch'))",
  ERR_COMPONENT_TOO_LARGE: "shrink the component or raise the gateway's --max-component-bytes",
  ERR_COMPONENT_MEMORY_TOO_LARGE:
    "build the guest with a smaller initial memory, or raise the app's memory limit",
  ERR_COMPONENT_UNSUPPORTED_IMPORTS:
    "the message names what the gateway does not offer; docs/guides/components.md lists what it does",
  ERR_COMPONENT_IMPORT_UNAVAILABLE:
    "the message says why; docs/guides/coming-from-spin.md lists what runs here",
  // Grants, key-value, variables and secrets.
  ERR_BUCKET_NOT_GRANTED:
    "grant the bucket with `deploy-cli push … --bucket <name>` (its own) or `--shared-bucket <name>` (the tenant's)",
  ERR_KV_KEY_NOT_FOUND: "list the keys with `deploy-cli kv list --app <name>`",
  ERR_CONFIG_NAME_TAKEN: "a name is either a variable or a secret: unset or delete the other first",
  ERR_VAR_NOT_FOUND: "list the variables with `deploy-cli vars list --app <name>`",
  ERR_SECRET_NOT_FOUND: "list the secrets with `deploy-cli secrets list --app <name>`",
  ERR_OUTBOUND_HOST_INVALID:
    "write allowed hosts as scheme://host[:port], e.g. https://api.example.com or http://127.0.0.1:*",
  ERR_OUTBOUND_HOST_PRIVATE:
    "the operator opens private ranges per tenant (deploy-cli tenants update <tenant> --allow-private-network <cidr>); or call the service by a public name",
  // deploy-cli's own checks before a build.
  ERR_TYPE_CHECK_FAILED:
    "fix the errors shown above (the project's `npm run check` runs the same check), or pass --no-check to build without it",
  // The request itself, and the gateway's state.
  ERR_BODY_TOO_LARGE: "send less, or raise the gateway's limit (docs/reference/limits.md)",
  ERR_STATE_UNAVAILABLE:
    "the gateway's state store (Redis) does not answer; `/readyz` on the admin port says more",
  ERR_NOT_READY: "the gateway is starting or draining; try again in a moment",
};

/**
 * Codes with no hint, and why: a bug, or a refusal whose message already says all there is.
 * Runtime codes answer guest requests, never a command, except those a push can hit above.
 */
export const NO_HINT: Readonly<Record<string, string>> = {
  ERR_INTERNAL: "a bug: the message and the gateway's log say what failed",
  ERR_BAD_REQUEST: "deploy-cli sends well-formed requests; the message names what was wrong",
  ERR_UNSUPPORTED_MEDIA_TYPE: "deploy-cli always sends the type the route takes",
};

/** Hints that depend on what was refused, where one code covers several mistakes. */
const BY_MESSAGE: readonly { code: string; match: RegExp; hint: string }[] = [
  {
    code: "ERR_VALIDATION",
    match: /app name/,
    hint: "name it like my-app or shop-2 (lower-case letters, digits and dashes)",
  },
  {
    code: "ERR_VALIDATION",
    match: /bucket name/,
    hint: "name it like default or user_sessions (lower-case letters, digits, '-' and '_')",
  },
];

/** The hint for a refusal with `code` and `message`, if there is one. */
export function hintFor(code: string, message = ""): string | undefined {
  return BY_MESSAGE.find((h) => h.code === code && h.match.test(message))?.hint ?? HINTS[code];
}
