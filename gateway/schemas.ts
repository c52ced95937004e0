// Admin API request and response shapes. deploy-cli imports the types from here, never server code.

import { z } from "zod";

/** Every error answer, from both listeners. */
export interface ErrorBody {
  error: { code: string; message: string; requestId: string };
}

export const APP_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export const AppName = z
  .string()
  .regex(
    APP_NAME,
    "an app name is 1-63 lower-case letters, digits or dashes, not starting or ending with a dash",
  );

/** Overrides of the gateway's default guest limits, per app. */
export const AppLimits = z
  .object({
    cpuMs: z.number().int().min(1).max(60_000),
    deadlineMs: z.number().int().min(1).max(3_600_000),
    memoryMb: z.number().int().min(1).max(4096),
    maxBodyBytes: z
      .number()
      .int()
      .min(0)
      .max(2 ** 40),
    maxResponseBytes: z
      .number()
      .int()
      .min(0)
      .max(2 ** 40),
    kvOps: z.number().int().min(0).max(1_000_000),
  })
  .partial()
  .strict();
export type AppLimits = z.infer<typeof AppLimits>;

export const BUCKET_NAME = /^[a-z0-9](?:[a-z0-9_-]{0,62})$/;
export const BucketName = z
  .string()
  .regex(
    BUCKET_NAME,
    "a bucket name is 1-63 lower-case letters, digits, '-' or '_', starting with a letter or digit",
  );
export const DEFAULT_BUCKETS = ["default"];

/** Creates the app or updates it; a field left out keeps its current value. */
export const PutAppBody = z
  .object({
    hostnames: z.array(z.string()).max(100, "at most 100 hostnames per app"),
    limits: AppLimits,
    /** Key-value buckets the app's guests may open. */
    buckets: z.array(BucketName).max(100, "at most 100 buckets per app"),
  })
  .partial()
  .strict();
export type PutAppBody = z.infer<typeof PutAppBody>;

export const DEPLOY_MESSAGE_MAX = 500;

export interface AppView {
  name: string;
  tenant: string;
  hostnames: string[];
  buckets: string[];
  limits: AppLimits;
  activeDeployment: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface DeploymentView {
  id: string;
  app: string;
  digest: string;
  size: number;
  createdAt: string;
  createdBy: string;
  message: string | null;
  active: boolean;
}

export interface DeployResponse {
  deployment: DeploymentView;
  urls: string[];
  /** True when these exact bytes were already stored and compiled. */
  reused: boolean;
}
