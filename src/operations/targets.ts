/**
 * Which roles, hosts and containers an operation aims at, from --role and --host. Pure: bad
 * choices are UserErrors that name what exists.
 */
import type { ContainerSummary } from "../engine/index.ts";
import { ExitCode, UserError } from "../errors/index.ts";

export interface RoleHosts {
  name: string;
  hosts: string[];
  proxied: boolean;
}

/** One role on one host. */
export interface Target {
  role: string;
  host: string;
}

/** The role named by --role, or the first role (web) without one. */
export function chooseRole(roles: readonly RoleHosts[], name: string | undefined): RoleHosts {
  const role = name === undefined ? roles[0] : roles.find((r) => r.name === name);
  if (!role) {
    throw new UserError({
      code: "usage.unknown_role",
      message:
        name === undefined
          ? "The configuration has no roles."
          : `There is no role "${name}" in the configuration.`,
      hint: `Roles in slipway.yml: ${roles.map((r) => r.name).join(", ") || "none (add servers)"}.`,
      exitCode: ExitCode.usage,
    });
  }
  return role;
}

/** The host named by --host (it must be one of the role's), or the role's first host. */
export function chooseHost(role: RoleHosts, host: string | undefined): string {
  const chosen = host ?? role.hosts[0];
  if (chosen === undefined || !role.hosts.includes(chosen)) {
    throw new UserError({
      code: "usage.unknown_host",
      message: `Role ${role.name} does not run on ${chosen ?? "any host"}.`,
      hint: `Its hosts: ${role.hosts.join(", ") || "none"}.`,
      exitCode: ExitCode.usage,
    });
  }
  return chosen;
}

/** Every role (or the one named) on every one of its hosts (or only the one named). */
export function chooseTargets(
  roles: readonly RoleHosts[],
  choice: { role?: string | undefined; host?: string | undefined },
): Target[] {
  const chosen = choice.role === undefined ? roles : [chooseRole(roles, choice.role)];
  const targets = chosen.flatMap((r) =>
    r.hosts
      .filter((h) => choice.host === undefined || h === choice.host)
      .map((host) => ({ role: r.name, host })),
  );
  if (targets.length === 0) {
    const hosts = [...new Set(chosen.flatMap((r) => r.hosts))];
    throw new UserError({
      code: "usage.unknown_host",
      message: `${choice.role ? `Role ${choice.role} does` : "No role does"} not run on ${choice.host}.`,
      hint: `Hosts: ${hosts.join(", ") || "none"}.`,
      exitCode: ExitCode.usage,
    });
  }
  return targets;
}

/** The running containers of a role, newest release first (a deploy may overlap two). */
export function runningNewestFirst(containers: readonly ContainerSummary[]): ContainerSummary[] {
  return containers
    .filter((c) => c.state === "running")
    .sort((a, b) => released(b).localeCompare(released(a)));
}

function released(container: ContainerSummary): string {
  return container.labels["slipway.released"] ?? "";
}

/** Hosts worked on at once by operations that only read, or remove what nothing uses. */
export const HOSTS_AT_ONCE = 10;

/** Why work on a host failed, for people. */
export function failureReason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Every host of the app, in role order, each once. */
export function allHosts(roles: readonly RoleHosts[]): string[] {
  return [...new Set(roles.flatMap((r) => r.hosts))];
}
