// deploy-cli deployments list: an app's most recent deployments, newest first.

import type { DeploymentView } from "../../gateway/schemas.ts";
import { appOf } from "../build/manifest.ts";
import { createClient } from "../client.ts";
import type { Command } from "../command.ts";
import { usage } from "../errors.ts";

export const deploymentsList: Command = {
  name: "deployments list",
  summary: "an app's recent deployments, newest first (* marks the live one)",
  usage: "deployments list --app <name>",
  examples: ["deploy-cli deployments list --app hello", "deploy-cli deployments list --app hello --json"],
  remote: true,
  options: { app: { type: "string" } },
  async run(ctx) {
    const app = await appOf(ctx.values);
    if (!app) throw usage("deployments list needs --app <name> (or a wasmgate.json here or above)");
    const { deployments } = await createClient(ctx.target()).get<{ deployments: DeploymentView[] }>(
      `/v1/apps/${encodeURIComponent(app)}/deployments`,
    );
    if (deployments.length === 0) {
      return ctx.result(
        { deployments },
        `${app} has no deployments yet: deploy it with \`deploy-cli push\`.\n`,
      );
    }
    ctx.result(
      { deployments },
      deployments
        .map(
          (d) =>
            `${d.active ? "*" : " "} ${d.id}  ${d.createdAt}  sha256:${d.digest.slice(0, 12)}  ${d.message ?? ""}\n` +
            (d.routes ?? [])
              .map((r) => `      ${r.route} → ${r.component} (sha256:${r.digest.slice(0, 12)})\n`)
              .join(""),
        )
        .join(""),
    );
  },
};
