/** Reads the facts pruning is planned from on one host, and applies a plan there. */
import { basename, dirname } from "node:path";
import { dockerListContainers, parseContainerList } from "../../engine/index.ts";
import { applySteps } from "../../plan/index.ts";
import { appDir, envFilePath, readReleases } from "../../releases/index.ts";
import type { Transport } from "../../transport/index.ts";
import {
  type OtherSite,
  type PruneFacts,
  type PrunePlan,
  parseImageIds,
  parseImageRefs,
  pruneSteps,
} from "./plan.ts";

export interface PruneScope {
  site: string;
  roles: PruneFacts["roles"];
  knownRoles: readonly string[];
  keep: number;
  /** Labels selecting the containers in scope. */
  containerLabels: Record<string, string>;
  /** The image of the release now (any tag). */
  image: string;
  /** Dangling images too (`slipway prune`; a deploy leaves them alone). */
  dangling: boolean;
}

/** Reads what planPrune needs: the release log, containers, env files, images. */
export async function readPruneFacts(transport: Transport, scope: PruneScope): Promise<PruneFacts> {
  const envDir = dirname(envFilePath(scope.site, "role", "version"));
  // Independent reads: one round trip's wait instead of four.
  const [records, list, files, images, dangling, otherSites] = await Promise.all([
    readReleases(transport, scope.site),
    transport.run(dockerListContainers(scope.containerLabels, { all: true })),
    transport.run(["ls", "-1", "--", envDir], { check: false }),
    transport.run(["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}"]),
    scope.dangling
      ? transport.run([
          "docker",
          "image",
          "ls",
          "--quiet",
          "--no-trunc",
          "--filter",
          "dangling=true",
        ])
      : undefined,
    readOtherSites(transport, scope.site),
  ]);
  const containers = parseContainerList(list.stdout);
  return {
    site: scope.site,
    records,
    roles: scope.roles,
    knownRoles: scope.knownRoles,
    keep: scope.keep,
    containers,
    envFiles: files.code === 0 ? files.stdout.split("\n").filter(Boolean) : [],
    image: scope.image,
    presentImages: parseImageRefs(images.stdout),
    dangling: dangling ? [...new Set(parseImageIds(dangling.stdout))] : [],
    otherSites,
  };
}

/** The other sites' release logs and env file names: every env file on the host in one read. */
async function readOtherSites(transport: Transport, site: string): Promise<OtherSite[]> {
  // /var/lib/slipway/<site>/env/<role>-<version>.env
  const root = dirname(appDir(site));
  const found = await transport.run(
    [
      "find",
      root,
      "-mindepth",
      "3",
      "-maxdepth",
      "3",
      "-type",
      "f",
      "-path",
      `${root}/*/env/*.env`,
    ],
    { check: false },
  );
  const bySite = new Map<string, string[]>();
  for (const path of found.stdout.split("\n").filter(Boolean)) {
    const other = basename(dirname(dirname(path)));
    if (other === site) continue;
    bySite.set(other, [...(bySite.get(other) ?? []), basename(path)]);
  }
  return Promise.all(
    [...bySite].map(async ([other, envFiles]) => ({
      site: other,
      records: await readReleases(transport, other),
      envFiles,
    })),
  );
}

/** Carries the plan out on the host. */
export async function applyPrune(transport: Transport, plan: PrunePlan): Promise<void> {
  await applySteps(transport, pruneSteps(plan));
}
