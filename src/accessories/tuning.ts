/**
 * Engine settings sized from the memory an accessory may use: its container limit when set, else
 * the host's memory (read from the host). The rules are the usual starting points (PGTune's for
 * Postgres, a quarter of memory for a buffer pool or cache beside an app); every value can be
 * overridden in slipway.yml, and overrides win. Pure.
 */
import type { EngineName } from "./engines.ts";

const MB = 1024 * 1024;

export interface TuningInput {
  engine: EngineName;
  /** Bytes the engine may use: the container's memory limit, or the host's total memory. */
  memoryBytes: number;
  /** True when memoryBytes is the container's own limit (the engine has it to itself). */
  dedicated: boolean;
  /** Settings from slipway.yml (engine spelling, e.g. shared_buffers or maxmemory-policy). */
  overrides: Readonly<Record<string, string | number>>;
}

/** Settings by the engine's own names, values as the engine reads them ("256MB", "100"). */
export function tuneAccessory(input: TuningInput): Record<string, string> {
  const computed = defaults(input);
  const out: Record<string, string> = { ...computed };
  for (const [key, value] of Object.entries(input.overrides)) out[key] = String(value);
  return out;
}

/** The memory an engine's main cache gets: all of a dedicated limit's share, a part of a shared host. */
function defaults(input: TuningInput): Record<string, string> {
  const memory = input.memoryBytes;
  switch (input.engine) {
    case "postgres": {
      const maxConnections = Number(input.overrides.max_connections ?? 100);
      const sharedBuffers = memory * 0.25;
      // What is left after shared buffers, spread over connections that may each sort (PGTune).
      const workMem = Math.max(4 * MB, (memory - sharedBuffers) / (maxConnections * 3));
      return {
        shared_buffers: megabytes(sharedBuffers, "MB"),
        effective_cache_size: megabytes(memory * 0.75, "MB"),
        work_mem: megabytes(workMem, "MB"),
        maintenance_work_mem: megabytes(Math.min(memory / 16, 2048 * MB), "MB"),
        max_connections: String(maxConnections),
      };
    }
    case "mysql":
    case "mariadb":
      return {
        innodb_buffer_pool_size: megabytes(memory * (input.dedicated ? 0.6 : 0.25), "M"),
        max_connections: "100",
      };
    case "redis":
      return {
        // Room for Redis' own overhead and fork-on-save copies within a dedicated limit.
        maxmemory: megabytes(memory * (input.dedicated ? 0.6 : 0.25), "mb"),
        // Queues (Celery, Sidekiq, BullMQ) must not lose keys: set allkeys-lru for a pure cache.
        "maxmemory-policy": "noeviction",
        appendonly: "yes",
        appendfsync: "everysec",
      };
    case "mongodb":
      return {
        // WiredTiger's default is half of (RAM - 1 GB); beside an app a quarter is kinder.
        wiredTigerCacheSizeGB: Math.max(
          0.25,
          Math.floor((memory * (input.dedicated ? 0.5 : 0.25)) / (256 * MB)) / 4,
        ).toFixed(2),
      };
    case "influxdb":
      return {};
  }
}

/** Whole megabytes, at least 1, with the engine's unit suffix. */
function megabytes(bytes: number, unit: "MB" | "M" | "mb"): string {
  return `${Math.max(1, Math.floor(bytes / MB))}${unit}`;
}

/** The settings each engine accepts from slipway.yml's tuning, for did-you-mean on typos. */
export const TUNABLE: Readonly<Record<EngineName, readonly string[]>> = {
  postgres: [
    "shared_buffers",
    "effective_cache_size",
    "work_mem",
    "maintenance_work_mem",
    "max_connections",
    "random_page_cost",
    "wal_buffers",
    "checkpoint_completion_target",
    "max_wal_size",
    "min_wal_size",
    "log_min_duration_statement",
  ],
  mysql: ["innodb_buffer_pool_size", "max_connections", "innodb_log_file_size", "long_query_time"],
  mariadb: [
    "innodb_buffer_pool_size",
    "max_connections",
    "innodb_log_file_size",
    "long_query_time",
  ],
  redis: ["maxmemory", "maxmemory-policy", "appendonly", "appendfsync", "save", "databases"],
  mongodb: ["wiredTigerCacheSizeGB"],
  influxdb: [],
};
