/**
 * InfluxDB 2's backups and restores, as argv run in the accessory's container (`docker exec`) by
 * its own influx CLI, logged in with the operator token of the mounted secret file (INFLUX_TOKEN
 * from the file, never argv). `influx backup` writes a folder, not a stream: the container's
 * shell backs up into a temporary folder and writes it to stdout as tar, and a restore unpacks
 * the stream into one; the folder is removed when the shell ends, whatever ended it. Pure.
 *
 * A restore is per bucket, not `--full`: `--full` would put back the backup's users and tokens
 * too, so the token the app (and Slipway) holds now, rotated since perhaps, would stop opening
 * it, and a throwaway copy for verification could not be read with its own. Instead the org's
 * own buckets are deleted (the influx CLI cannot restore over an existing bucket), then the
 * backup's buckets of the app's org are restored into it; users and tokens stay the server's.
 * What verification compares: the names of the org's buckets.
 *
 * Tested by argv only: no InfluxDB 2 server can run on the machines that test Slipway.
 */
import { ENGINES, INFLUX_WITH_TOKEN, SECRETS_MOUNT } from "../accessories/index.ts";
import { dockerExec } from "../engine/index.ts";
import type { Argv } from "../transport/index.ts";
import type { EngineTarget } from "./engines.ts";

/** An InfluxDB 2 accessory's container; `database` is its org (and first bucket), as set up. */
export interface InfluxTarget extends Omit<EngineTarget, "engine"> {
  engine: "influxdb";
}

/** A temporary folder for the shell's life: removed on exit, and on a signal (which exits). */
const TEMPORARY_FOLDER = [
  "set -e",
  "umask 077",
  "d=$(mktemp -d)",
  "trap 'rm -rf \"$d\"' EXIT",
  "trap 'exit 1' HUP INT TERM",
];
const TOKEN = `INFLUX_TOKEN="$(cat ${SECRETS_MOUNT}/token)"; export INFLUX_TOKEN`;

/** The influx CLI with the token of the day from its secret file, `args` after it. */
function influx(t: InfluxTarget, ...args: string[]): Argv {
  return dockerExec(t.container, ["sh", "-c", `${INFLUX_WITH_TOKEN} "$@"`, "influx", ...args]);
}

/**
 * `influx backup` of the app's org (INFLUX_ORG, from the container's env) into a temporary
 * folder, then that folder as tar on stdout. The CLI's progress goes to stderr.
 */
export function planInfluxDump(t: InfluxTarget): Argv {
  return dockerExec(t.container, [
    "sh",
    "-c",
    [...TEMPORARY_FOLDER, TOKEN, 'influx backup "$d/backup" >&2', 'tar -C "$d" -cf - backup'].join(
      "\n",
    ),
  ]);
}

/** Bucket ids are 16 hex digits; anything else is not passed to the shell. */
function checkBucketId(id: string): string {
  if (!/^[0-9a-f]{16}$/.test(id))
    throw new TypeError(`bad InfluxDB bucket id ${JSON.stringify(id)}`);
  return id;
}

/**
 * Restores such a tar from stdin: unpacked whole first (a cut stream changes nothing), then the
 * org's buckets `replace` (their ids) are deleted and the backup's buckets of org `from` (the
 * org it was made in) restored into the container's org (INFLUX_ORG).
 */
export function planInfluxRestore(
  t: InfluxTarget,
  options: { from: string; replace: readonly string[] },
): Argv {
  return dockerExec(
    t.container,
    [
      "sh",
      "-c",
      [
        ...TEMPORARY_FOLDER,
        'from="$1"; shift',
        'tar -C "$d" -xf -',
        '[ -d "$d/backup" ] || { echo "the archive holds no influx backup folder" >&2; exit 1; }',
        '[ -n "$INFLUX_ORG" ] || { echo "INFLUX_ORG is not set in the container" >&2; exit 1; }',
        TOKEN,
        'for id in "$@"; do influx bucket delete --id "$id" >&2; done',
        'influx restore --org "$from" --new-org "$INFLUX_ORG" "$d/backup" >&2',
      ].join("\n"),
      "sh",
      options.from,
      ...options.replace.map(checkBucketId),
    ],
    { interactive: true },
  );
}

/** The buckets of the container's org, as JSON (parseInfluxBuckets reads it). */
export function planInfluxBuckets(t: InfluxTarget): Argv {
  return influx(t, "bucket", "list", "--json");
}

/** One entry of `influx bucket list --json`, as far as a backup needs it. */
export interface InfluxBucket {
  id: string;
  name: string;
}

/** The org's own buckets out of `influx bucket list --json` (system buckets, "_...", left out). */
export function parseInfluxBuckets(stdout: string): InfluxBucket[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch {
    throw new TypeError(`influx bucket list printed no JSON: ${stdout.slice(0, 200)}`);
  }
  if (!Array.isArray(parsed))
    throw new TypeError(`influx bucket list printed no list: ${stdout.slice(0, 200)}`);
  return parsed
    .filter(
      (b): b is { id: string; name: string; type?: unknown } =>
        typeof b?.id === "string" && typeof b?.name === "string",
    )
    .filter((b) => b.type !== "system" && !b.name.startsWith("_"))
    .map((b) => ({ id: b.id, name: b.name }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** The server's version: influxd's own ("InfluxDB v2.7.10 (git: ...) build_date: ..."). */
export function planInfluxVersion(t: InfluxTarget): Argv {
  return dockerExec(t.container, ["influxd", "version"]);
}

export function parseInfluxVersion(stdout: string): string {
  return /InfluxDB v?(\S+)/.exec(stdout)?.[1] ?? "unknown";
}

/** Exits 0 once the server answers (the engine's health check, in the container). */
export function planInfluxReady(t: InfluxTarget): Argv {
  return dockerExec(t.container, ENGINES.influxdb.healthCheck);
}
