/** Key paths into a configuration value, and how they are printed in messages. */

export type PathSegment = string | number;
export type Path = readonly PathSegment[];

/** A map key for a path; JSON keeps "a.b" (one key) apart from "a", "b" (two keys). */
export function pathKey(path: Path): string {
  return JSON.stringify(path);
}

/** Formats a path the way users read it: `servers.web.hosts[0]`, `build.args["a.b"]`. */
export function formatPath(path: Path): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(segment)) out += out === "" ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** True when `path` starts with every segment of `prefix`. */
export function hasPrefix(path: Path, prefix: Path): boolean {
  return prefix.length <= path.length && prefix.every((segment, i) => path[i] === segment);
}

/** A plain YAML/JSON map (not a list, not null). */
export function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The value at `path`, or undefined when any step is missing. */
export function valueAt(root: unknown, path: Path): unknown {
  let node = root;
  for (const segment of path) {
    if (typeof segment === "number") {
      if (!Array.isArray(node)) return undefined;
      node = node[segment];
    } else {
      if (!isMap(node) || !Object.hasOwn(node, segment)) return undefined;
      node = node[segment];
    }
  }
  return node;
}

/** Sets a key without ever touching the prototype, even for a key named "__proto__". */
export function setKey(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}
