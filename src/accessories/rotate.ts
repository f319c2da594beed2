/**
 * Rotating an accessory's password without a moment where the app cannot log in: two logins take
 * turns (the way AWS rotates with "alternating users"). The login the app does not use gets a new
 * password, the app is restarted through the health gate with it, and only then is the previous
 * login's password replaced by one nobody knows. Postgres: the second login is a member of the
 * first, and its sessions act as the first (SET ROLE), so the objects stay the first's. Pure.
 */
import { UserError } from "../errors/index.ts";
import { type Credentials, type EngineName, SECRETS_MOUNT } from "./engines.ts";

export interface RotationPlan {
  /** The login the app moves to. */
  next: Credentials;
  /** Runs in the container as its superuser, the SQL on stdin (never argv). */
  client: string[];
  /** SQL (on stdin to the engine's client, never argv) that gives `next` its password. */
  prepare: string;
  /** SQL that retires the login the app used, once the app runs healthy with `next`. */
  retire: (unknownPassword: string) => string;
}

/** The role that owns the database: the first login, the one the image created. */
export function ownerOf(credentials: Credentials): string {
  return credentials.owner ?? credentials.user;
}

export function planRotation(
  engine: EngineName,
  credentials: Credentials,
  newPassword: string,
): RotationPlan {
  if (engine === "mysql" || engine === "mariadb")
    return planMysqlRotation(engine, credentials, newPassword);
  if (engine === "redis") return planRedisRotation(credentials, newPassword);
  if (engine !== "postgres") {
    throw new UserError({
      code: "rotate.engine",
      message: `rotating a ${engine} password is not supported yet (Postgres, MySQL, MariaDB and Redis are)`,
      hint: "for now: set a new password in the engine, then slipway accessory restart",
    });
  }
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
  const prefix = engine === "mysql" ? "MYSQL" : "MARIADB";
  const client = engine === "mysql" ? "mysql" : "mariadb";
  const previous = credentials.user;
  return {
    next: { ...credentials, user: target, password: newPassword, owner },
    client: ["sh", "-c", `MYSQL_PWD="$${prefix}_ROOT_PASSWORD" exec ${client} --user=root --batch`],
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
