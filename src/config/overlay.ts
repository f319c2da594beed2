/**
 * Environment overlays: deep merge of YAML data that carries its locations along, so a value that
 * came from an overlay is reported in the overlay's file, at the overlay's line.
 */
import { hasPrefix, isMap, type Path, pathKey, setKey, valueAt } from "./paths.ts";
import type { Locations, Sourced } from "./yaml-positions.ts";

/** The part of `source` under `prefix`, re-rooted there (an in-file `environments.<env>`). */
export function subtree(source: Sourced, prefix: Path): Sourced {
  const locations: Locations = new Map();
  for (const location of source.locations.values()) {
    if (!hasPrefix(location.path, prefix)) continue;
    const path = location.path.slice(prefix.length);
    locations.set(pathKey(path), { ...location, path });
  }
  return { value: valueAt(source.value, prefix), locations };
}

/** `source` without one top-level key. */
export function withoutKey(source: Sourced, key: string): Sourced {
  if (!isMap(source.value) || !Object.hasOwn(source.value, key)) return source;
  const value: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(source.value)) if (k !== key) setKey(value, k, v);
  const locations: Locations = new Map();
  for (const [k, location] of source.locations)
    if (location.path[0] !== key) locations.set(k, location);
  return { value, locations };
}

/** Applies `overlay` on top of `base`: maps merge key by key, lists and scalars replace. */
export function mergeOverlay(base: Sourced, overlay: Sourced): Sourced {
  const locations: Locations = new Map(base.locations);
  const value = mergeAt(base.value, overlay.value, [], locations, overlay.locations);
  return { value, locations };
}

function mergeAt(
  base: unknown,
  over: unknown,
  path: Path,
  locations: Locations,
  from: Locations,
): unknown {
  if (!isMap(base) || !isMap(over)) return replaceAt(over, path, locations, from);
  // Both maps: the map keeps the base's location, each key merges on its own.
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const child = [...path, key];
    setKey(
      out,
      key,
      Object.hasOwn(base, key)
        ? mergeAt(base[key], value, child, locations, from)
        : replaceAt(value, child, locations, from),
    );
  }
  return out;
}

function replaceAt(value: unknown, path: Path, locations: Locations, from: Locations): unknown {
  for (const [key, location] of locations)
    if (hasPrefix(location.path, path)) locations.delete(key);
  for (const [key, location] of from)
    if (hasPrefix(location.path, path)) locations.set(key, location);
  return value;
}

/**
 * Rewrites the shorthand `servers.<role>: [hosts]` into `{ hosts: [...] }` before merging, so an
 * overlay can change one key of a role written either way. Locations keep their source paths.
 */
export function expandRoleShorthand(source: Sourced): Sourced {
  const servers = valueAt(source.value, ["servers"]);
  if (!isMap(source.value) || !isMap(servers)) return source;
  const shorthand = Object.keys(servers).filter((role) => Array.isArray(servers[role]));
  if (shorthand.length === 0) return source;

  const expanded: Record<string, unknown> = {};
  for (const [role, value] of Object.entries(servers)) {
    setKey(expanded, role, shorthand.includes(role) ? { hosts: value } : value);
  }
  const value: Record<string, unknown> = { ...source.value };
  setKey(value, "servers", expanded);

  const locations: Locations = new Map();
  for (const [key, location] of source.locations) {
    const role = location.path[1];
    if (location.path[0] !== "servers" || typeof role !== "string" || !shorthand.includes(role)) {
      locations.set(key, location);
      continue;
    }
    if (location.path.length === 2) {
      locations.set(key, location);
      const hostsPath = ["servers", role, "hosts"];
      locations.set(pathKey(hostsPath), { ...location, path: hostsPath });
      continue;
    }
    const path = ["servers", role, "hosts", ...location.path.slice(2)];
    locations.set(pathKey(path), { ...location, path });
  }
  return { value, locations };
}
