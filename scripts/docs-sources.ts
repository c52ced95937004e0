// Every table of the code that the reference pages in docs/reference/ are made from
// (scripts/gen-docs.ts), imported in this one file: when a module moves, fix its line here.

export { LIMIT_FLAGS } from "../deploy-cli/commands/push.ts";
export { CLI_ERRORS } from "../deploy-cli/errors.ts";
export { COMMANDS, commandHelp, overview } from "../deploy-cli/main.ts";
export { ADMIN_ROUTES, type AdminRouteDoc } from "../gateway/admin/routes-doc.ts";
export { CONFIG_HELP, DEFAULT_MAX_BODY_BYTES, SETTINGS } from "../gateway/config.ts";
export { GATEWAY_ERROR_MEANINGS, GATEWAY_ERRORS } from "../gateway/errors.ts";
export { DEFAULT_LOG_BUS_LIMITS, type LogBusLimits } from "../gateway/ops/log-bus.ts";
export {
  AppLimits,
  CONFIG_NAME,
  CONFIG_VALUE_MAX,
  DEPLOY_MESSAGE_MAX,
  MAX_SECRETS,
  MAX_VARS,
  TOKEN_TTL_DEFAULT_SECONDS,
  TOKEN_TTL_MAX_SECONDS,
} from "../gateway/schemas.ts";
export { DEPLOYMENTS_RETAINED } from "../gateway/state/store.ts";
export {
  DEFAULT_KV_LIMITS,
  KV_ERROR_CODES,
  KV_ERROR_MEANINGS,
  KvError,
  type KvLimits,
} from "../kv/index.ts";
export { MAX_REDIRECTS } from "../runtime/capabilities/outbound-http/index.ts";
export { MAX_SQLITE_DATABASES } from "../runtime/capabilities/spin-sqlite/grant.ts";
export {
  SQLITE_BUSY_TIMEOUT_MS,
  SQLITE_MAX_BYTES,
  SQLITE_MAX_ROWS,
  SQLITE_MAX_STATEMENT_BYTES,
  SQLITE_MAX_VALUE_BYTES,
} from "../runtime/capabilities/spin-sqlite/index.ts";
export { DEFAULT_STALL_MS, WALL_FACTOR, WATCHDOG_GRACE_MS } from "../runtime/cpu-slot.ts";
export { GRANTS } from "../runtime/grants.ts";
export {
  DEFAULT_LIMITS,
  DEFAULT_MAX_COMPONENT_BYTES,
  DEFAULT_MAX_INSTANCES_PER_APP,
  DEFAULT_MEMORY_BUDGET_BYTES,
  RUNTIME_ERROR_MEANINGS,
  RUNTIME_ERRORS,
  type RuntimeErrorCode,
} from "../runtime/index.ts";
export {
  FIRST_CALL_ALLOWANCE_MAX_MS,
  FIRST_CALL_ALLOWANCE_MS_PER_MIB,
  GUEST_OUTPUT_LIMIT,
  INLINE_BODY_MAX,
  INSTANTIATE_CPU_MS,
  STREAM_WINDOW,
} from "../runtime/limits.ts";
export { MAX_RESPONSE_HEAD_BYTES, MAX_RESPONSE_HEADERS } from "../runtime/worker/response-head.ts";
export { GUEST_BUILD_ERRORS } from "./guests.ts";
