// What the gateway keeps: apps with their hostnames, immutable deployments, and component
// artifacts addressed by SHA-256. The embedded backend is SQLite in the state directory.

import type { AppLimits } from "../schemas.ts";

/** Until tenants arrive, every app belongs to this one. */
export const DEFAULT_TENANT = "default";

export interface AppRecord {
  name: string;
  tenant: string;
  hostnames: string[];
  buckets: string[];
  /** `scheme://host[:port]` patterns its guests may call over HTTP (none: no outbound HTTP). */
  allowedOutboundHosts: string[];
  limits: AppLimits;
  activeDeployment: string | undefined;
  createdAt: string;
  updatedAt: string;
}

export interface DeploymentRecord {
  id: string;
  app: string;
  digest: string;
  size: number;
  createdAt: string;
  createdBy: string;
  message: string | undefined;
  /** The runtime's ComponentInfo, as prepared at deploy time. */
  info: unknown;
}

export interface Route {
  app: string;
  tenant: string;
  buckets: string[];
  allowedOutboundHosts: string[];
  pattern: string;
  limits: AppLimits;
  deployment: DeploymentRecord | undefined;
}

export interface StateStore {
  getApp(name: string): Promise<AppRecord | undefined>;
  listApps(): Promise<AppRecord[]>;
  /**
   * Creates the app or updates the fields given (hostnames are replaced as a whole). Throws
   * ERR_HOSTNAME_TAKEN when a hostname belongs to another app; then nothing changes.
   */
  putApp(
    name: string,
    changes: {
      hostnames?: string[];
      limits?: AppLimits;
      buckets?: string[];
      allowedOutboundHosts?: string[];
    },
  ): Promise<{ app: AppRecord; created: boolean }>;
  /** The app's variables, sorted by name. */
  listVars(app: string): Promise<[string, string][]>;
  /** Sets a variable; ERR_CONFIG_NAME_TAKEN when a secret has the name. */
  setVar(app: string, name: string, value: string, maxCount: number): Promise<void>;
  deleteVar(app: string, name: string): Promise<boolean>;
  /** The app's secrets, sealed (see secrets.ts), sorted by name. */
  listSecrets(app: string): Promise<{ name: string; sealed: string; updatedAt: string }[]>;
  /** Stores a sealed secret; ERR_CONFIG_NAME_TAKEN when a variable has the name. */
  putSecret(
    app: string,
    name: string,
    sealed: string,
    maxCount: number,
  ): Promise<{ name: string; updatedAt: string }>;
  deleteSecret(app: string, name: string): Promise<boolean>;
  /** The app serving exactly this hostname pattern, with its active deployment. */
  routeFor(pattern: string): Promise<Route | undefined>;
  hasArtifact(digest: string): Promise<boolean>;
  putArtifact(digest: string, bytes: Uint8Array): Promise<void>;
  getArtifact(digest: string): Promise<Uint8Array | undefined>;
  /** Records a deployment and makes it the app's active one, atomically. */
  addDeployment(record: DeploymentRecord): Promise<void>;
  listDeployments(app: string, limit: number): Promise<DeploymentRecord[]>;
  /** Increases whenever anything routing depends on changes. */
  version(): Promise<number>;
  close(): Promise<void>;
}
