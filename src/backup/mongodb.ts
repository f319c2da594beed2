/**
 * MongoDB's dumps and restores, as argv run in the accessory's container (`docker exec`), by its
 * own tools: `mongodump --archive` of the app's database to stdout, `mongorestore --archive
 * --drop` of it from stdin, logged in as the login of the mounted secret files. The password
 * reaches mongodump and mongorestore through a --config file the container's shell writes (0600,
 * in a folder of its own, removed when the tool ends): it is in no argv. Documents per collection
 * are counted with mongosh, whose script reads the same files. Pure.
 *
 * Tested by argv only: no MongoDB server can run on the machines that test Slipway.
 */
import { ENGINES, mongoLogin, SECRETS_MOUNT } from "../accessories/index.ts";
import { dockerExec } from "../engine/index.ts";
import type { Argv } from "../transport/index.ts";
import type { EngineTarget } from "./engines.ts";

/** A MongoDB accessory's container and the app's login and database. */
export interface MongoTarget extends Omit<EngineTarget, "engine"> {
  engine: "mongodb";
}

/**
 * A database tool of MongoDB's (mongodump, mongorestore) with the login of the secret files:
 * `"$1"` is the database, the tool's own arguments follow.
 */
function withLogin(tool: string, args: string): string {
  return [
    "set -e",
    "umask 077",
    "d=$(mktemp -d); trap 'rm -rf \"$d\"' EXIT",
    `printf 'password: "%s"\\n' "$(cat ${SECRETS_MOUNT}/password)" > "$d/config.yaml"`,
    `${tool} --config="$d/config.yaml" --username="$(cat ${SECRETS_MOUNT}/user)" --authenticationDatabase=admin ${args}`,
  ].join("\n");
}

/** mongodump of the app's database as one archive on stdout. */
export function planMongoDump(t: MongoTarget): Argv {
  return dockerExec(t.container, [
    "sh",
    "-c",
    withLogin("mongodump", '--db="$1" --archive'),
    "sh",
    t.database,
  ]);
}

/** mongorestore of such an archive from stdin, its collections dropped first. */
export function planMongoRestore(t: MongoTarget): Argv {
  return dockerExec(
    t.container,
    [
      "sh",
      "-c",
      withLogin("mongorestore", '--nsInclude="$1.*" --drop --archive'),
      "sh",
      t.database,
    ],
    { interactive: true },
  );
}

/** mongosh logged in as the app, running `script` against the database `db`. */
function mongosh(t: MongoTarget, script: string): Argv {
  return dockerExec(t.container, [
    "mongosh",
    "--nodb",
    "--norc",
    "--quiet",
    "--eval",
    `${mongoLogin("const db", JSON.stringify(t.database))} ${script}`,
  ]);
}

/** The server's version: one line. */
export function planMongoVersion(t: MongoTarget): Argv {
  return mongosh(t, "print(db.version());");
}

/** Documents per collection, as "db.collection<TAB>count" lines (parseCounts reads them). */
export function planMongoCounts(t: MongoTarget): Argv {
  return mongosh(
    t,
    "for (const c of db.getCollectionNames().sort()) print(db.getName() + '.' + c + '\\t' + db.getCollection(c).countDocuments({}));",
  );
}

/** Exits 0 once the server answers (the engine's health check, in the container). */
export function planMongoReady(t: MongoTarget): Argv {
  return dockerExec(t.container, ENGINES.mongodb.healthCheck);
}
