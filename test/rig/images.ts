/**
 * Images rig/install.sh builds offline for tests and the demo, besides the VPS box; keep the tags
 * in step with NODE_IMAGE, NGINX_IMAGE, POSTGRES_IMAGE, MARIADB_IMAGE and REDIS_IMAGE there.
 */
import type { RigCheck } from "./proc.ts";
import { rigAvailable, VPS_IMAGE } from "./vps.ts";

/** Node 24 on Debian 12 with a `node` user (uid 1000): the example app's BASE build argument. */
export const NODE_IMAGE = "localhost/slipway-node:24";
/** Debian 12's nginx, logging to stdout and stderr, stopped with SIGQUIT. */
export const NGINX_IMAGE = "localhost/slipway-nginx:1";
/**
 * Stands in for the official `postgres:15`: Debian's PostgreSQL 15 with the official image's
 * contract (user postgres uid 999, PGDATA /var/lib/postgresql/data, POSTGRES_USER / _PASSWORD /
 * _DB / _INITDB_ARGS / _HOST_AUTH_METHOD, /docker-entrypoint-initdb.d, `postgres -c ...` args,
 * scram-sha-256 for TCP, psql / pg_dump / pg_isready, SIGINT to stop).
 */
export const POSTGRES_IMAGE = "localhost/slipway-postgres:15";
/**
 * Stands in for the official `mariadb:10.11`: Debian's MariaDB 10.11 with the official image's
 * contract (user mysql uid 999, datadir /var/lib/mysql, MARIADB_ROOT_PASSWORD / _RANDOM_ROOT_PASSWORD
 * / _ALLOW_EMPTY_ROOT_PASSWORD / _DATABASE / _USER / _PASSWORD and their MYSQL_* spellings,
 * /docker-entrypoint-initdb.d, mariadbd args, healthcheck.sh, mariadb-admin, port 3306).
 */
export const MARIADB_IMAGE = "localhost/slipway-mariadb:10.11";
/**
 * Stands in for the official `redis:7`: Debian's Redis 7.0 with the official image's contract
 * (user redis uid 999, WORKDIR and volume /data, built-in defaults plus args with protected mode
 * off, `redis-server FILE.conf ARGS`, redis-cli, port 6379).
 */
export const REDIS_IMAGE = "localhost/slipway-redis:7";

/** Whether the VPS box and all these images can be used: the first missing one's reason if not. */
export function imagesAvailable(...images: string[]): RigCheck {
  for (const image of [VPS_IMAGE, ...images]) {
    const check = rigAvailable(image);
    if (!check.ok) return check;
  }
  return { ok: true };
}
