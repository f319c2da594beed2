/**
 * What pruning removes on one host, decided from facts read there: stopped containers, and the
 * env files and images of releases beyond `releases.keep`. The current version and the kept ones
 * are never touched, whatever the facts say, nor an image another site on the host (another
 * environment of the app shares its image names) keeps for its current or a kept release.
 * Pure: the same facts give the same plan and steps.
 */
import { type ContainerSummary, checkImageRef, dockerRemove } from "../../engine/index.ts";
import { run, type Step } from "../../plan/index.ts";
import { envFilePath, type ReleaseRecord, versionsToKeep } from "../../releases/index.ts";

export interface PruneFacts {
  site: string;
  /** The site's release log on this host. */
  records: readonly ReleaseRecord[];
  /** Roles whose env files are pruned here, each with the version it runs now. */
  roles: readonly { name: string; current: string | undefined }[];
  /** Every role name the app has, so "web-admin-v1.env" is never read as web's "admin-v1". */
  knownRoles: readonly string[];
  keep: number;
  /** Containers in scope (the role's after a deploy, the site's for `slipway prune`), any state. */
  containers: readonly ContainerSummary[];
  /** File names in the site's env folder. */
  envFiles: readonly string[];
  /** The image of the release now (any tag): a version with no record is named after it. */
  image: string;
  /** Image references present on the host ("hello:v1"). */
  presentImages: readonly string[];
  /** IDs of dangling images on the host; empty when they are not pruned. */
  dangling: readonly string[];
  /** The other sites on the host (staging beside production): their release logs and env files. */
  otherSites: readonly OtherSite[];
}

/** Another site's state on the same host, read to leave its images alone. */
export interface OtherSite {
  site: string;
  records: readonly ReleaseRecord[];
  /** File names in its env folder: a release whose env file is there is current or kept. */
  envFiles: readonly string[];
}

export interface PrunePlan {
  /** Stopped containers, by name. */
  containers: string[];
  /** Env files, by full path. */
  envFiles: string[];
  /** Images of releases no role keeps, by reference. */
  images: string[];
  /** Dangling image IDs. */
  dangling: string[];
  /** The versions each role keeps (the current one first). */
  kept: { role: string; versions: string[] }[];
}

// Stopped for good: a restarting or paused container is still someone's live one.
const STOPPED = new Set(["exited", "created", "dead"]);

/** Plans what to remove; see the module comment for what is always kept. */
export function planPrune(facts: PruneFacts): PrunePlan {
  const currents = new Map(facts.roles.map((r) => [r.name, r.current]));
  const recordRoles = new Set(facts.records.map((r) => r.role));
  const roles = [...new Set([...facts.roles.map((r) => r.name), ...recordRoles])];
  const kept = facts.roles.map((r) => ({
    role: r.name,
    versions: versionsToKeep(facts.records, r.name, facts.keep, r.current),
  }));
  // Roles share the app's image: a version any role keeps keeps its image too.
  const keptByAnyRole = new Set<string>();
  for (const role of roles) {
    for (const v of versionsToKeep(facts.records, role, facts.keep, currents.get(role))) {
      keptByAnyRole.add(v);
    }
  }

  const known = [...new Set([...facts.knownRoles, ...roles])];
  const envFiles: string[] = [];
  const shipped = new Set<string>(facts.records.map((r) => r.version));
  for (const file of facts.envFiles) {
    const parsed = parseEnvFileName(file, known);
    if (!parsed) continue;
    shipped.add(parsed.version);
    const keeps = kept.find((k) => k.role === parsed.role);
    if (keeps && !keeps.versions.includes(parsed.version)) {
      envFiles.push(envFilePath(facts.site, parsed.role, parsed.version));
    }
  }

  const present = new Set(facts.presentImages.flatMap(referenceSpellings));
  const elsewhere = new Set(usedElsewhere(facts.otherSites).flatMap(referenceSpellings));
  const images: string[] = [];
  for (const version of shipped) {
    if (keptByAnyRole.has(version)) continue;
    // The name that release recorded: a registry added or dropped since then renamed images.
    const ref =
      facts.records.findLast((r) => r.version === version)?.image ??
      `${facts.image.slice(0, facts.image.lastIndexOf(":"))}:${version}`;
    if (present.has(ref) && !elsewhere.has(ref) && !images.includes(ref)) images.push(ref);
  }

  return {
    containers: facts.containers.filter((c) => STOPPED.has(c.state)).map((c) => c.name),
    envFiles,
    images,
    dangling: [...facts.dangling],
    kept,
  };
}

/**
 * Images the other sites still keep: those of their releases whose env file is there (prune
 * keeps the env file of the current and every kept release, and removes the others').
 */
function usedElsewhere(sites: readonly OtherSite[]): string[] {
  return sites.flatMap((other) => {
    const files = new Set(other.envFiles);
    return other.records.filter((r) => files.has(`${r.role}-${r.version}.env`)).map((r) => r.image);
  });
}

/** True when the plan removes nothing. */
export function isEmptyPrune(plan: PrunePlan): boolean {
  return (
    plan.containers.length + plan.envFiles.length + plan.images.length + plan.dangling.length === 0
  );
}

/**
 * The steps that carry a plan out: one command per kind of thing, since each command costs a
 * round trip. Removing an image a container still uses fails, and is allowed to: nothing in use
 * is ever forced away.
 */
export function pruneSteps(plan: PrunePlan): Step[] {
  const steps: Step[] = [];
  if (plan.containers.length > 0) {
    steps.push(
      run("remove stopped containers", dockerRemove(plan.containers), { allowFailure: true }),
    );
  }
  if (plan.envFiles.length > 0) {
    steps.push(run("remove env files of old releases", ["rm", "-f", "--", ...plan.envFiles]));
  }
  if (plan.images.length > 0) {
    steps.push(
      run(
        "remove images of old releases",
        ["docker", "image", "rm", "--", ...plan.images.map((ref) => checkImageRef(ref))],
        { allowFailure: true },
      ),
    );
  }
  if (plan.dangling.length > 0) {
    steps.push(
      run("remove dangling images", ["docker", "image", "rm", "--", ...plan.dangling], {
        allowFailure: true,
      }),
    );
  }
  return steps;
}

/** Reads "<role>-<version>.env", choosing the longest known role that fits. */
export function parseEnvFileName(
  file: string,
  roles: readonly string[],
): { role: string; version: string } | undefined {
  if (!file.endsWith(".env")) return undefined;
  const stem = file.slice(0, -".env".length);
  const role = [...roles]
    .sort((a, b) => b.length - a.length)
    .find((r) => stem.startsWith(`${r}-`) && stem.length > r.length + 1);
  return role ? { role, version: stem.slice(role.length + 1) } : undefined;
}

/** How engines may list one reference: Podman qualifies short names ("localhost/hello:v1"). */
function referenceSpellings(ref: string): string[] {
  const spellings = [ref];
  for (const prefix of ["localhost/", "docker.io/library/", "docker.io/"]) {
    if (ref.startsWith(prefix)) spellings.push(ref.slice(prefix.length));
  }
  return spellings;
}

/** Dangling image IDs as `docker image ls --quiet --no-trunc` prints them, checked. */
export function parseImageIds(stdout: string): string[] {
  return stdout
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => /^(sha256:)?[0-9a-f]{12,64}$/.test(line));
}

/** Image references as `docker image ls --format '{{.Repository}}:{{.Tag}}'` prints them. */
export function parseImageRefs(stdout: string): string[] {
  return stdout
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.includes("<none>"));
}
