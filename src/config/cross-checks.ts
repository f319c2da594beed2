/**
 * Rules that relate two parts of the file. They read the raw merged data (not zod's output) so they
 * still run, and are reported with everything else, when some other part is invalid.
 */
import type { ConfigIssue } from "../errors/index.ts";
import { issueAt } from "./issues.ts";
import { isMap, type Path, valueAt } from "./paths.ts";
import { backupTargetAccessory } from "./schema.ts";
import type { Sourced } from "./yaml-positions.ts";

/** Issues from the rules that span keys: env names, cron roles, backup accessories. */
export function crossCheckIssues(source: Sourced): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const at = (path: Path, message: string, hint: string) =>
    issues.push(issueAt(source.locations, path, "value", message, hint));
  const root = source.value;

  const envPaths: Path[] = [["env"]];
  const accessories = valueAt(root, ["accessories"]);
  if (isMap(accessories))
    for (const name of Object.keys(accessories)) envPaths.push(["accessories", name, "env"]);
  for (const envPath of envPaths) {
    const clear = valueAt(root, [...envPath, "clear"]);
    const secret = valueAt(root, [...envPath, "secret"]);
    if (!isMap(clear) || !Array.isArray(secret)) continue;
    secret.forEach((name, i) => {
      if (typeof name === "string" && Object.hasOwn(clear, name)) {
        at(
          [...envPath, "secret", i],
          `${JSON.stringify(name)} is in both env.clear and env.secret`,
          "keep it in one of them: env.secret if the value is sensitive, env.clear otherwise",
        );
      }
    });
  }

  // An accessory's URL variable must not also be set by hand: which one would the app get?
  const DEFAULT_URL_ENV: Record<string, string> = {
    postgres: "DATABASE_URL",
    mysql: "DATABASE_URL",
    mariadb: "DATABASE_URL",
    mongodb: "MONGODB_URL",
    redis: "REDIS_URL",
    influxdb: "INFLUXDB_URL",
  };
  const appClear = valueAt(root, ["env", "clear"]);
  const appSecret = valueAt(root, ["env", "secret"]);
  const urlOwners = new Map<string, string>();
  if (isMap(accessories)) {
    for (const [name, spec] of Object.entries(accessories)) {
      if (!isMap(spec)) continue;
      const configured = spec.url_env;
      const variable =
        typeof configured === "string"
          ? configured
          : configured === false || typeof spec.engine !== "string"
            ? undefined
            : DEFAULT_URL_ENV[spec.engine];
      if (variable === undefined) continue;
      const path: Path =
        configured === undefined
          ? ["accessories", name, "engine"]
          : ["accessories", name, "url_env"];
      const other = urlOwners.get(variable);
      if (other !== undefined) {
        at(
          path,
          `accessories ${other} and ${name} would both set ${variable}`,
          `give one of them another name: url_env: ${name.toUpperCase().replaceAll("-", "_")}_URL`,
        );
      }
      urlOwners.set(variable, name);
      const byHand =
        (isMap(appClear) && Object.hasOwn(appClear, variable)) ||
        (Array.isArray(appSecret) && appSecret.includes(variable));
      if (byHand) {
        at(
          path,
          `accessory ${name} sets ${variable} in the app's env, which env also sets`,
          `remove ${variable} from env, or set url_env: false (or another name) for ${name}`,
        );
      }
    }
  }

  const servers = valueAt(root, ["servers"]);
  const roles = isMap(servers) ? Object.keys(servers) : [];
  const cron = valueAt(root, ["cron"]);
  if (isMap(cron) && isMap(servers)) {
    for (const [job, spec] of Object.entries(cron)) {
      if (!isMap(spec)) continue;
      // Without a role a job takes the first role, which always exists.
      const role = spec.role;
      if (typeof role === "string" && !roles.includes(role)) {
        at(
          ["cron", job, "role"],
          `cron job ${JSON.stringify(job)} runs in role ${JSON.stringify(role)}, which servers does not define`,
          `roles defined in servers: ${roles.join(", ") || "none"}`,
        );
      }
    }
  }

  issues.push(...tlsIssues(source));

  const targets = valueAt(root, ["backups", "targets"]);
  if (isMap(targets)) {
    for (const [target, spec] of Object.entries(targets)) {
      if (isMap(spec)) issues.push(...backupTargetIssues(source, target, spec));
    }
  }
  return issues;
}

/** A volume of a role as its containers see it: "NAME:/path" or "/host/path:/path". */
interface RoleVolume {
  role: string;
  source: string;
  target: string;
}

/** The volumes the roles declare (servers.ROLE.volumes), as written. */
function declaredRoleVolumes(root: unknown): RoleVolume[] {
  const servers = valueAt(root, ["servers"]);
  if (!isMap(servers)) return [];
  return Object.entries(servers).flatMap(([role, spec]) => {
    const volumes = isMap(spec) ? spec.volumes : undefined;
    if (!Array.isArray(volumes)) return [];
    return volumes.flatMap((v) => {
      if (typeof v !== "string") return [];
      const [volume = "", target = ""] = v.split(":");
      return [{ role, source: volume, target }];
    });
  });
}

/** What a backup target names must exist: its accessory (and be dumpable), role, volume, file. */
function backupTargetIssues(
  source: Sourced,
  target: string,
  spec: Record<string, unknown>,
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const root = source.value;
  const here = ["backups", "targets", target];
  const at = (key: string | undefined, message: string, hint: string) =>
    issues.push(
      issueAt(source.locations, key === undefined ? here : [...here, key], "value", message, hint),
    );
  const accessories = valueAt(root, ["accessories"]);
  const servers = valueAt(root, ["servers"]);
  const roles = isMap(servers) ? Object.keys(servers) : [];
  const accessory = backupTargetAccessory(target, spec);
  if (accessory !== undefined) {
    const key = spec.accessory === undefined ? undefined : "accessory";
    const definition = isMap(accessories) ? accessories[accessory] : undefined;
    const engine = isMap(definition) ? definition.engine : undefined;
    if (definition === undefined) {
      const known = isMap(accessories) ? Object.keys(accessories) : [];
      at(
        key,
        `backup target ${JSON.stringify(target)} is accessory ${JSON.stringify(accessory)}, which accessories does not define`,
        `accessories defined: ${known.join(", ") || "none"}; or say what it is: volume:, sqlite: or config: true`,
      );
    } else if (engine === "generic") {
      at(
        key,
        `accessory ${accessory} is generic: Slipway does not know how to dump it consistently`,
        `back up its data folder as a volume target (volume:) while it is stopped, or dump it with a cron job`,
      );
    }
  }
  const role = spec.role;
  if (typeof role === "string" && !roles.includes(role)) {
    at(
      "role",
      `backup target ${JSON.stringify(target)} names role ${JSON.stringify(role)}, which servers does not define`,
      `roles defined in servers: ${roles.join(", ") || "none"}`,
    );
    return issues;
  }
  const volumes = declaredRoleVolumes(root).filter(
    (v) => typeof role !== "string" || v.role === role,
  );
  const volume = spec.volume;
  if (typeof volume === "string" && !volume.startsWith("/")) {
    if (!volumes.some((v) => v.source === volume)) {
      at(
        "volume",
        `no role${typeof role === "string" ? ` ${role}` : ""} has a volume ${JSON.stringify(volume)}`,
        `volumes of the roles: ${volumes.map((v) => v.source).join(", ") || "none"}; an absolute folder of the host works too`,
      );
    }
  }
  const file = spec.sqlite;
  if (typeof file === "string" && !volumes.some((v) => file.startsWith(`${v.target}/`))) {
    at(
      "sqlite",
      `${file} is on no volume${typeof role === "string" ? ` of role ${role}` : " of a role"}: it would go with its container`,
      `put the database on a volume, e.g. servers.web.volumes: ["data:${file.slice(0, file.lastIndexOf("/")) || "/data"}"]`,
    );
  }
  return issues;
}

/** proxy.tls needs names to certify; a wildcard can only be proven by DNS-01 (or bought). */
function tlsIssues(source: Sourced): ConfigIssue[] {
  const tls = valueAt(source.value, ["proxy", "tls"]);
  if (!isMap(tls)) return [];
  const domains = valueAt(source.value, ["proxy", "domains"]);
  const names = Array.isArray(domains) ? domains : [];
  if (names.length === 0) {
    return [
      issueAt(
        source.locations,
        ["proxy", "tls"],
        "key",
        "proxy.tls needs proxy.domains: a certificate is for names",
        "list the domains the site answers to under proxy.domains",
      ),
    ];
  }
  const challenge = valueAt(source.value, ["proxy", "tls", "acme", "challenge"]);
  if (!isMap(tls.acme) || challenge === "dns-01") return [];
  const issues: ConfigIssue[] = [];
  names.forEach((name, i) => {
    if (typeof name === "string" && name.startsWith("*.")) {
      issues.push(
        issueAt(
          source.locations,
          ["proxy", "domains", i],
          "value",
          `${JSON.stringify(name)} is a wildcard: ACME issues those only through dns-01`,
          "set proxy.tls.acme.challenge: dns-01 with a dns provider, or list each name",
        ),
      );
    }
  });
  return issues;
}
