/**
 * Rotating an accessory's password without a moment where the app cannot log in: two logins take
 * turns (the way AWS rotates with "alternating users"). The login the app does not use gets a new
 * password, the app is restarted through the health gate with it, and only then is the previous
 * login's password replaced by one nobody knows. Postgres: the second login is a member of the
 * first, and its sessions act as the first (SET ROLE), so the objects stay the first's. Redis
 * and InfluxDB have one login with several credentials instead: a second password, a second token.
 * Pure.
 */
import { UserError } from "../errors/index.ts";
import {
  type Credentials,
  type EngineName,
  INFLUX_WITH_TOKEN,
  mongoLogin,
  mysqlRoot,
  SECRETS_MOUNT,
} from "./engines.ts";

export interface RotationPlan {
  /** The login the app moves to. */
  next: Credentials;
  /** Runs in the container as its superuser, the SQL (or script) on stdin (never argv). */
  client: string[];
  /** SQL or script (on stdin to the engine's client, never argv) that gives `next` its password. */
  prepare: string;
  /** What retires the login the app used, once the app runs healthy with `next`. */
  retire: (unknownPassword: string) => string;
}

/** The role that owns the database: the first login, the one the image created. */
export function ownerOf(credentials: Credentials): string {
  return credentials.owner ?? credentials.user;
}

/** The plan of an engine whose new password Slipway makes; InfluxDB makes its tokens itself. */
export function planRotation(
  engine: Exclude<EngineName, "influxdb">,
  credentials: Credentials,
  newPassword: string,
): RotationPlan {
  if (engine === "mysql" || engine === "mariadb")
    return planMysqlRotation(engine, credentials, newPassword);
  if (engine === "redis") return planRedisRotation(credentials, newPassword);
  if (engine === "mongodb") return planMongoRotation(credentials, newPassword);
  const owner = ownerOf(credentials);
  const target = credentials.user === owner ? `${owner}_b` : owner;
  const id = (name: string) => `"${name.replaceAll('"', '""')}"`;
  const literal = (value: string) => `'${value.replaceAll("'", "''")}'`;
  const prepare = [
    ...(target === owner
      ? []
      : [
          // The second login: a member of the owner whose sessions act as the owner.
          "DO $$ BEGIN",
          `  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = ${literal(target)}) THEN`,
          `    CREATE ROLE ${id(target)} LOGIN IN ROLE ${id(owner)};`,
          "  END IF;",
          "END $$;",
          `ALTER ROLE ${id(target)} SET role = ${literal(owner)};`,
        ]),
    `ALTER ROLE ${id(target)} WITH LOGIN PASSWORD ${literal(newPassword)};`,
    "",
  ].join("\n");
  const previous = credentials.user;
  return {
    next: { ...credentials, user: target, password: newPassword, owner },
    client: psqlFromStdin(),
    prepare,
    retire: (unknownPassword) =>
      [
        `ALTER ROLE ${id(previous)} WITH PASSWORD ${literal(unknownPassword)};`,
        // Sessions opened with the old password end too (the restarted app no longer has any).
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = ${literal(previous)} AND pid <> pg_backend_pid();`,
        "",
      ].join("\n"),
  };
}

/** The argv that runs SQL from stdin as the owner, over the container's local socket. */
export function psqlFromStdin(): string[] {
  return [
    "sh",
    "-c",
    'exec psql --quiet --no-psqlrc -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB"',
  ];
}

/**
 * MySQL and MariaDB: the second login is a user with the same grants on the app's database (MariaDB
 * has no second password for one user), the SQL run as root with its password from the
 * container's env (MYSQL_PWD, never argv).
 */
function planMysqlRotation(
  engine: "mysql" | "mariadb",
  credentials: Credentials,
  newPassword: string,
): RotationPlan {
  const owner = ownerOf(credentials);
  const target = credentials.user === owner ? `${owner}_b` : owner;
  const literal = (value: string) => `'${value.replaceAll("\\", "\\\\").replaceAll("'", "''")}'`;
  const account = (name: string) => `${literal(name)}@'%'`;
  const database = `\`${credentials.database.replaceAll("`", "``")}\``;
  const previous = credentials.user;
  return {
    next: { ...credentials, user: target, password: newPassword, owner },
    client: ["sh", "-c", `${mysqlRoot(engine)} --batch`],
    prepare: [
      `CREATE USER IF NOT EXISTS ${account(target)} IDENTIFIED BY ${literal(newPassword)};`,
      `ALTER USER ${account(target)} IDENTIFIED BY ${literal(newPassword)};`,
      `GRANT ALL PRIVILEGES ON ${database}.* TO ${account(target)};`,
      "",
    ].join("\n"),
    retire: (unknownPassword) =>
      [`ALTER USER ${account(previous)} IDENTIFIED BY ${literal(unknownPassword)};`, ""].join("\n"),
  };
}

/**
 * Redis: one user (default) may have several passwords (ACL, Redis 6 and later), so the new one
 * is added beside the old, and the old removed once the app runs with the new. The client logs in
 * with the password in the mounted secret file, which the rotation replaces in between; every
 * command must answer OK.
 */
function planRedisRotation(credentials: Credentials, newPassword: string): RotationPlan {
  const previous = credentials.password;
  return {
    next: { ...credentials, password: newPassword },
    client: [
      "sh",
      "-c",
      [
        `out="$(REDISCLI_AUTH="$(cat ${SECRETS_MOUNT}/password)" redis-cli 2>&1)"`,
        'if [ -n "$out" ] && [ -z "$(printf "%s\\n" "$out" | grep -v "^OK$")" ]; then exit 0; fi',
        'printf "%s\\n" "$out" >&2',
        "exit 1",
      ].join("\n"),
    ],
    prepare: `ACL SETUSER default on >${newPassword}\n`,
    retire: () => `ACL SETUSER default <${previous}\n`,
  };
}

/**
 * MongoDB: the second login is a user in the admin database with the owner's roles (root, as the
 * image made it). mongosh reads the script from stdin and logs in as the login in the mounted
 * secret files: before the move the previous one, after it the new one. Any error ends it with
 * exit 1.
 */
function planMongoRotation(credentials: Credentials, newPassword: string): RotationPlan {
  const owner = ownerOf(credentials);
  const target = credentials.user === owner ? `${owner}_b` : owner;
  const js = JSON.stringify;
  const script = (lines: string[]) =>
    [
      "try {",
      `  ${mongoLogin("const admin", "'admin'")}`,
      ...lines.map((line) => `  ${line}`),
      "} catch (error) {",
      "  print('slipway: ' + error.message);",
      "  quit(1);",
      "}",
      "",
    ].join("\n");
  const previous = credentials.user;
  return {
    next: { ...credentials, user: target, password: newPassword, owner },
    client: ["mongosh", "--nodb", "--quiet", "--norc", "--file", "/dev/stdin"],
    prepare: script(
      target === owner
        ? [`admin.updateUser(${js(owner)}, { pwd: ${js(newPassword)} });`]
        : [
            `const roles = admin.getUser(${js(owner)}).roles;`,
            `if (admin.getUser(${js(target)})) admin.updateUser(${js(target)}, { pwd: ${js(newPassword)}, roles });`,
            `else admin.createUser({ user: ${js(target)}, pwd: ${js(newPassword)}, roles });`,
          ],
    ),
    retire: (unknownPassword) =>
      script([`admin.updateUser(${js(previous)}, { pwd: ${js(unknownPassword)} });`]),
  };
}

/** One entry of `influx auth list --json` (influx CLI 2.x), as far as a rotation needs it. */
interface InfluxAuth {
  id: string;
  description?: string;
  token?: string;
}

/**
 * InfluxDB 2: it makes a token's value itself, so the app moves to a new operator token that
 * InfluxDB creates (`influx auth create --operator`), and the old token is then deleted by its id.
 * Every influx command logs in with the token in the mounted secret file (INFLUX_TOKEN, never
 * argv): before the move the old one, after it the new one. Pure; the orchestrator runs the argv.
 */
export const influxRotation = {
  /** Creates the new token; prints it as JSON (read by `created`). */
  create(credentials: Credentials, description: string): string[] {
    return influx(
      "auth",
      "create",
      "--operator",
      "--user",
      credentials.user,
      "--org",
      credentials.database,
      "--description",
      description,
      "--json",
    );
  },

  /** The credentials with the token `create` printed; throws without quoting the output. */
  created(credentials: Credentials, printed: string): Credentials {
    let auth: InfluxAuth | undefined;
    try {
      auth = JSON.parse(printed) as InfluxAuth;
    } catch {
      auth = undefined;
    }
    if (
      !auth ||
      typeof auth.token !== "string" ||
      auth.token === "" ||
      typeof auth.id !== "string"
    ) {
      throw new UserError({
        code: "rotate.influx_create",
        message: "influx auth create printed no token and id as JSON",
        hint: "the influx CLI in the image must be 2.5 or later (operator tokens); nothing was changed",
      });
    }
    return { ...credentials, password: auth.token, tokenId: auth.id };
  },

  list(): string[] {
    return influx("auth", "list", "--json");
  },

  /**
   * The id of the token the app used before, in what `list` printed: by the id Slipway kept when
   * it created it, by its value (InfluxDB before 2.9 lists values; 2.9 keeps them hashed and lists
   * none), or, for the token of the image's setup, by the description setup gives it
   * ("<user>'s Token") when exactly one has it. Undefined: not found.
   */
  previousId(previous: Credentials, printed: string): string | undefined {
    let auths: InfluxAuth[];
    try {
      const parsed = JSON.parse(printed) as unknown;
      auths = Array.isArray(parsed) ? (parsed as InfluxAuth[]) : [];
    } catch {
      return undefined;
    }
    if (previous.tokenId !== undefined) return auths.find((a) => a.id === previous.tokenId)?.id;
    const byValue = auths.find((a) => a.token !== undefined && a.token === previous.password);
    if (byValue) return byValue.id;
    const bySetup = auths.filter(
      (a) => a.description === influxRotation.setupDescription(previous),
    );
    return bySetup.length === 1 ? bySetup[0]?.id : undefined;
  },

  /** The description the image's setup (InfluxDB's onboarding) gives the first token. */
  setupDescription(credentials: Credentials): string {
    return `${credentials.user}'s Token`;
  },

  delete(id: string): string[] {
    return influx("auth", "delete", "--id", id);
  },

  /** What to delete by hand when `previousId` found nothing: by id or description, never the token. */
  notFound(accessory: string, previous: Credentials): string {
    const which =
      previous.tokenId !== undefined
        ? `the token with id ${previous.tokenId}`
        : `the token described "${influxRotation.setupDescription(previous)}"`;
    const id = previous.tokenId ?? "ID";
    return `${accessory}: the previous token was not found in influx auth list, so none was deleted: if it still opens, delete ${which} by hand, in InfluxDB's UI or with slipway accessory exec ${accessory} -- sh -c '${INFLUX_WITH_TOKEN} auth delete --id ${id}'`;
  },
};

/** The influx CLI in the container with the token of the day from its secret file. */
function influx(...args: string[]): string[] {
  return ["sh", "-c", `${INFLUX_WITH_TOKEN} "$@"`, "influx", ...args];
}
