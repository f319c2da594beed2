/**
 * What Slipway knows about each accessory engine, written against the official images' documented
 * contracts (Docker Hub's postgres, mysql, mariadb, mongo, redis, influxdb): the image, where data
 * lives, how credentials reach the container, how health is checked, how a client connects, and
 * the console. Pure: no I/O; secrets appear only in env-file content and URLs, never in argv.
 */

export type EngineName = "postgres" | "mysql" | "mariadb" | "mongodb" | "redis" | "influxdb";

/** Credentials of one accessory, generated on first boot and kept on its host. */
export interface Credentials {
  user: string;
  password: string;
  database: string;
  /** Superuser password where the engine has a separate one (mysql, mariadb, mongodb, influxdb). */
  rootPassword: string;
  /** After a rotation: the first login, which owns the data (`user` is then the second). */
  owner?: string;
  /** InfluxDB after a rotation: the id of the token in `password` (InfluxDB made it). */
  tokenId?: string;
}

export interface EngineDefinition {
  /** The official image's name; the version is its tag. */
  image: string;
  defaultVersion: string;
  /** Port the engine listens on inside the container. */
  port: number;
  /** Where the official image keeps its data (the volume's mount point). */
  dataPath: string;
  /** Variable of the app's env the connection URL goes to, unless the config names another. */
  urlEnv: string;
  /** The container's env file: how the official image is told its credentials at first boot. */
  containerEnv(credentials: Credentials): Record<string, string>;
  /** How a client in the private network connects, as an URL with the credentials in it. */
  url(address: string, port: number, credentials: Credentials): string;
  /** Run in the container (`docker exec`): exits 0 once the engine accepts connections. */
  healthCheck: readonly string[];
  /** Run in the container with a terminal: the engine's shell, logged in. */
  console: readonly string[];
  /**
   * The container's command. Secrets reach it from the env file through the shell, never argv:
   * the host's `ps` sees every container process.
   */
  command(settings: Readonly<Record<string, string>>): readonly string[] | undefined;
  /**
   * Files (name -> content) for an engine that reads its password at every start rather than
   * keeping it in its data: kept on the host (0600) and mounted read-only at SECRETS_MOUNT, so a
   * rotation can change them while the container runs.
   */
  secretFiles?(credentials: Credentials): Record<string, string>;
}

/** Where an engine's secret files are mounted in its container (read-only). */
export const SECRETS_MOUNT = "/run/slipway-secrets";

const enc = encodeURIComponent;

/** The official postgres image: initdb from POSTGRES_* on an empty PGDATA; `-c key=value` args. */
const postgres: EngineDefinition = {
  image: "postgres",
  defaultVersion: "16",
  port: 5432,
  dataPath: "/var/lib/postgresql/data",
  urlEnv: "DATABASE_URL",
  containerEnv: (c) => ({
    POSTGRES_USER: c.user,
    POSTGRES_PASSWORD: c.password,
    POSTGRES_DB: c.database,
    // The host's libpq defaults, so `psql` in the container (console, checks) logs in as the app.
    PGUSER: c.user,
    PGDATABASE: c.database,
  }),
  url: (address, port, c) =>
    `postgres://${enc(c.user)}:${enc(c.password)}@${address}:${port}/${enc(c.database)}`,
  // Over the socket as the app's user: ready means initdb and the init scripts are done.
  healthCheck: [
    "sh",
    "-c",
    'pg_isready --quiet --username "$POSTGRES_USER" --dbname "$POSTGRES_DB"',
  ],
  console: ["sh", "-c", 'exec psql --username "$POSTGRES_USER" --dbname "$POSTGRES_DB"'],
  command: (settings) => [
    "postgres",
    ...Object.entries(settings).flatMap(([key, value]) => ["-c", `${key}=${value}`]),
  ],
};

/**
 * A MySQL/MariaDB program (default: the client) as root over the container's socket, its password
 * from the env (MYSQL_PWD, never argv).
 */
export function mysqlRoot(
  kind: "mysql" | "mariadb",
  program: string = kind === "mysql" ? "mysql" : "mariadb",
): string {
  const prefix = kind === "mysql" ? "MYSQL" : "MARIADB";
  return `MYSQL_PWD="$${prefix}_ROOT_PASSWORD" exec ${program} --user=root`;
}

/** The official mysql and mariadb images share MYSQL_*-style variables (MariaDB spells them MARIADB_* too). */
function mysqlFamily(kind: "mysql" | "mariadb"): EngineDefinition {
  const prefix = kind === "mysql" ? "MYSQL" : "MARIADB";
  return {
    image: kind,
    defaultVersion: kind === "mysql" ? "8.4" : "11.4",
    port: 3306,
    dataPath: "/var/lib/mysql",
    urlEnv: "DATABASE_URL",
    containerEnv: (c) => ({
      [`${prefix}_ROOT_PASSWORD`]: c.rootPassword,
      [`${prefix}_DATABASE`]: c.database,
      [`${prefix}_USER`]: c.user,
      [`${prefix}_PASSWORD`]: c.password,
    }),
    url: (address, port, c) =>
      `mysql://${enc(c.user)}:${enc(c.password)}@${address}:${port}/${enc(c.database)}`,
    // MYSQL_PWD keeps the password out of argv (the client reads it from its environment).
    healthCheck:
      kind === "mariadb"
        ? ["healthcheck.sh", "--connect", "--innodb_initialized"]
        : [
            "sh",
            "-c",
            'MYSQL_PWD="$MYSQL_ROOT_PASSWORD" exec mysqladmin ping --host=127.0.0.1 --user=root --silent',
          ],
    // As root, whose password no rotation changes: the app's logins take turns and the retired
    // one no longer opens, so the env's user and password are not today's.
    console: ["sh", "-c", `${mysqlRoot(kind)} "$${prefix}_DATABASE"`],
    command: (settings) => [
      kind === "mysql" ? "mysqld" : "mariadbd",
      ...Object.entries(settings).map(([key, value]) => `--${key.replaceAll("_", "-")}=${value}`),
    ],
  };
}

/**
 * mongosh that logs in as the login in the mounted secret files: `target` (a JS assignment target)
 * gets the database `database` (a JS expression).
 */
export function mongoLogin(target: string, database: string): string {
  return `const r = (f) => require('fs').readFileSync('${SECRETS_MOUNT}/' + f, 'utf8'), q = encodeURIComponent; ${target} = connect('mongodb://' + q(r('user')) + ':' + q(r('password')) + '@127.0.0.1:27017/' + ${database} + '?authSource=admin');`;
}

/**
 * The official mongo image: a root user from MONGO_INITDB_ROOT_* at first boot. Its entrypoint
 * reads MONGO_INITDB_ROOT_PASSWORD_FILE only after dropping to the mongodb user, who cannot read a
 * root-only 0600 file; so a root shell reads the mounted files at every start into the entrypoint's
 * environment (which it unsets before it execs mongod), and nothing secret is in the container's
 * env. --auth is given, not left to the entrypoint's guess from those variables.
 */
const mongodb: EngineDefinition = {
  image: "mongo",
  defaultVersion: "7",
  port: 27017,
  dataPath: "/data/db",
  urlEnv: "MONGODB_URL",
  containerEnv: (c) => ({ MONGO_INITDB_DATABASE: c.database }),
  // The current login: the first, or after a rotation the one the app uses now.
  secretFiles: (c) => ({ user: c.user, password: c.password }),
  url: (address, port, c) =>
    `mongodb://${enc(c.user)}:${enc(c.password)}@${address}:${port}/${enc(c.database)}?authSource=admin`,
  // A ping needs no login; mongosh is in the official image since 6.0.
  healthCheck: ["mongosh", "--quiet", "--norc", "--eval", "db.adminCommand('ping').ok"],
  // mongosh takes no password from its environment, but its scripts read files: the login
  // happens in the script, so the password is in no argv.
  console: [
    "mongosh",
    "--nodb",
    "--norc",
    "--shell",
    "--eval",
    mongoLogin("db", "q(process.env.MONGO_INITDB_DATABASE)"),
  ],
  command: (settings) => [
    "sh",
    "-c",
    [
      `MONGO_INITDB_ROOT_USERNAME="$(cat ${SECRETS_MOUNT}/user)"`,
      `MONGO_INITDB_ROOT_PASSWORD="$(cat ${SECRETS_MOUNT}/password)"`,
      "export MONGO_INITDB_ROOT_USERNAME MONGO_INITDB_ROOT_PASSWORD",
      'exec docker-entrypoint.sh mongod "$@"',
    ].join("; "),
    "mongod",
    "--auth",
    ...Object.entries(settings).flatMap(([key, value]) => [`--${key}`, value]),
  ],
};

/**
 * The official redis image runs `redis-server` with arguments and has no password variable, and
 * Redis keeps its password only in memory: it is read at every start from the mounted secret file
 * into a config file inside the container (printf is a shell builtin and `cat` is given only the
 * path, so it is in no process's argv). A rotation adds the new password live (ACL SETUSER) and
 * replaces the file, so a later restart starts with it.
 */
const REDIS_AUTH = `REDISCLI_AUTH="$(cat ${SECRETS_MOUNT}/password)"`;
const redis: EngineDefinition = {
  image: "redis",
  defaultVersion: "7",
  port: 6379,
  dataPath: "/data",
  urlEnv: "REDIS_URL",
  containerEnv: () => ({}),
  secretFiles: (c) => ({ password: c.password }),
  url: (address, port, c) => `redis://:${enc(c.password)}@${address}:${port}/0`,
  // REDISCLI_AUTH logs redis-cli in without -a in argv.
  healthCheck: ["sh", "-c", `${REDIS_AUTH} redis-cli ping | grep -qx PONG`],
  console: ["sh", "-c", `${REDIS_AUTH} exec redis-cli`],
  command: (settings) => [
    "sh",
    "-c",
    [
      "umask 077",
      `printf "requirepass %s\\n" "$(cat ${SECRETS_MOUNT}/password)" > /tmp/slipway-auth.conf`,
      "chmod 644 /tmp/slipway-auth.conf", // redis-server runs as the image's redis user
      'exec docker-entrypoint.sh redis-server /tmp/slipway-auth.conf "$@"',
    ].join("; "),
    "redis",
    ...Object.entries(settings).flatMap(([key, value]) => [`--${key}`, value]),
  ],
};

/**
 * The official influxdb 2 image: DOCKER_INFLUXDB_INIT_* set up a user, org, bucket and operator
 * token at first boot; its entrypoint reads the *_FILE spellings as root, so the password and token
 * come from the mounted 0600 files. The influx CLI in the container (console, rotation) takes the
 * token of the day from its file into INFLUX_TOKEN, never argv.
 */
export const INFLUX_WITH_TOKEN = `INFLUX_TOKEN="$(cat ${SECRETS_MOUNT}/token)" exec influx`;
const influxdb: EngineDefinition = {
  image: "influxdb",
  defaultVersion: "2",
  port: 8086,
  dataPath: "/var/lib/influxdb2",
  urlEnv: "INFLUXDB_URL",
  containerEnv: (c) => ({
    DOCKER_INFLUXDB_INIT_MODE: "setup",
    DOCKER_INFLUXDB_INIT_USERNAME: c.user,
    DOCKER_INFLUXDB_INIT_PASSWORD_FILE: `${SECRETS_MOUNT}/admin-password`,
    DOCKER_INFLUXDB_INIT_ORG: c.database,
    DOCKER_INFLUXDB_INIT_BUCKET: c.database,
    DOCKER_INFLUXDB_INIT_ADMIN_TOKEN_FILE: `${SECRETS_MOUNT}/token`,
    // The influx CLI in the container reads it, so the console and checks need no --org.
    INFLUX_ORG: c.database,
  }),
  secretFiles: (c) => ({ "admin-password": c.rootPassword, token: c.password }),
  // InfluxDB clients take the token separately; the URL carries it as the password part.
  url: (address, port, c) => `http://${enc(c.user)}:${enc(c.password)}@${address}:${port}`,
  healthCheck: ["influx", "ping"],
  console: ["sh", "-c", `${INFLUX_WITH_TOKEN} v1 shell`],
  command: () => undefined,
};

export const ENGINES: Readonly<Record<EngineName, EngineDefinition>> = {
  postgres,
  mysql: mysqlFamily("mysql"),
  mariadb: mysqlFamily("mariadb"),
  mongodb,
  redis,
  influxdb,
};
