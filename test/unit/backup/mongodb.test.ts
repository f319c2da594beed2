/**
 * MongoDB's dump and restore as argv (no MongoDB server can run here): mongodump and mongorestore
 * of the app's database through an archive, logged in from the mounted secret files through a
 * --config file the container's shell writes, so no password is in any argv; mongosh counts.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type MongoTarget,
  planMongoCounts,
  planMongoDump,
  planMongoReady,
  planMongoRestore,
  planMongoVersion,
} from "../../../src/backup/index.ts";

const t: MongoTarget = {
  engine: "mongodb",
  container: "hello-docs",
  user: "hello",
  database: "hello",
};
const LOGIN = [
  "set -e",
  "umask 077",
  "d=$(mktemp -d); trap 'rm -rf \"$d\"' EXIT",
  'printf \'password: "%s"\\n\' "$(cat /run/slipway-secrets/password)" > "$d/config.yaml"',
];

describe("MongoDB backups, by argv", () => {
  it("dumps the app's database as one archive on stdout, the password from the secret file", () => {
    assert.deepEqual(planMongoDump(t), [
      "docker",
      "exec",
      "hello-docs",
      "sh",
      "-c",
      [
        ...LOGIN,
        'mongodump --config="$d/config.yaml" --username="$(cat /run/slipway-secrets/user)" --authenticationDatabase=admin --db="$1" --archive',
      ].join("\n"),
      "sh",
      "hello",
    ]);
  });

  it("restores it from stdin, the database's collections dropped first", () => {
    assert.deepEqual(planMongoRestore({ ...t, database: "it's" }), [
      "docker",
      "exec",
      "--interactive",
      "hello-docs",
      "sh",
      "-c",
      [
        ...LOGIN,
        'mongorestore --config="$d/config.yaml" --username="$(cat /run/slipway-secrets/user)" --authenticationDatabase=admin --nsInclude="$1.*" --drop --archive',
      ].join("\n"),
      "sh",
      "it's",
    ]);
  });

  it("counts documents per collection and reads the version with mongosh, logged in by its script", () => {
    const counts = planMongoCounts(t);
    assert.deepEqual(counts.slice(0, 8), [
      "docker",
      "exec",
      "hello-docs",
      "mongosh",
      "--nodb",
      "--norc",
      "--quiet",
      "--eval",
    ]);
    const script = counts[8] ?? "";
    assert.match(
      script,
      /^const r = \(f\) => require\('fs'\)\.readFileSync\('\/run\/slipway-secrets\/' \+ f, 'utf8'\)/,
    );
    assert.match(
      script,
      /const db = connect\('mongodb:\/\/' \+ q\(r\('user'\)\) \+ ':' \+ q\(r\('password'\)\) \+ '@127\.0\.0\.1:27017\/' \+ "hello" \+ '\?authSource=admin'\);/,
    );
    assert.ok(
      script.endsWith(
        "for (const c of db.getCollectionNames().sort()) print(db.getName() + '.' + c + '\\t' + db.getCollection(c).countDocuments({}));",
      ),
    );
    assert.ok(planMongoVersion(t)[8]?.endsWith(" print(db.version());"));
    assert.deepEqual(planMongoReady(t), [
      "docker",
      "exec",
      "hello-docs",
      "mongosh",
      "--quiet",
      "--norc",
      "--eval",
      "db.adminCommand('ping').ok",
    ]);
  });
});
