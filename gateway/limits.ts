// An app's effective limits: the gateway's defaults with the app's overrides on top.

import { DEFAULT_LIMITS, type GuestLimits } from "../runtime/index.ts";
import type { AppLimits } from "./schemas.ts";

export interface EffectiveLimits {
  guest: GuestLimits;
  maxBodyBytes: number;
}

export interface LimitDefaults {
  guest?: Partial<GuestLimits>;
  maxBodyBytes: number;
}

const MIB = 1024 * 1024;

export function effectiveLimits(app: AppLimits, defaults: LimitDefaults): EffectiveLimits {
  const base = { ...DEFAULT_LIMITS, ...defaults.guest };
  return {
    guest: {
      cpuMs: app.cpuMs ?? base.cpuMs,
      deadlineMs: app.deadlineMs ?? base.deadlineMs,
      memoryBytes: app.memoryMb !== undefined ? app.memoryMb * MIB : base.memoryBytes,
      maxResponseBytes: app.maxResponseBytes ?? base.maxResponseBytes,
      kvOps: app.kvOps ?? base.kvOps,
      outboundRequests: app.outboundRequests ?? base.outboundRequests,
      outboundConnectTimeoutMs: app.outboundConnectTimeoutMs ?? base.outboundConnectTimeoutMs,
      outboundTimeoutMs: app.outboundTimeoutMs ?? base.outboundTimeoutMs,
      outboundMaxResponseBytes: app.outboundMaxResponseBytes ?? base.outboundMaxResponseBytes,
      instances: app.instances ?? base.instances,
    },
    maxBodyBytes: app.maxBodyBytes ?? defaults.maxBodyBytes,
  };
}
