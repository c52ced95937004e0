// deploy-cli apps list: the apps on the gateway, with their hostnames and live deployment.

import type { AppView } from "../../gateway/schemas.ts";
import { createClient } from "../client.ts";
import type { Command } from "../command.ts";
import { table } from "../format.ts";

export const appsList: Command = {
  name: "apps list",
  summary: "the apps on the gateway, with hostnames and live deployment",
  usage: "apps list",
  examples: ["deploy-cli apps list", "deploy-cli apps list --profile staging --json"],
  remote: true,
  async run(ctx) {
    const { apps } = await createClient(ctx.target()).get<{ apps: AppView[] }>("/v1/apps");
    const rows = [["NAME", "DEPLOYMENT", "UPDATED", "HOSTNAMES"]];
    for (const a of apps) {
      rows.push([a.name, a.activeDeployment ?? "-", a.updatedAt, a.hostnames.join(", ") || "-"]);
    }
    ctx.result(
      { apps },
      apps.length === 0 ? "No apps yet: create one with `deploy-cli push`.\n" : table(rows),
    );
  },
};
