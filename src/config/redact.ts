/** The resolved configuration as plain data that is safe to print. */
import type { LoadedConfig } from "./load.ts";

const REDACTED = "[redacted]";
// Shorter values would blank out ordinary words and numbers; the transport redacts them anyway.
const MIN_REDACTED_LENGTH = 4;

/** The resolved config as JSON-able data, plus `secrets` (NAME -> "[redacted]"); secret values never appear. */
export function redactedConfig(loaded: LoadedConfig): unknown {
  const values = [...loaded.secrets.values.values()]
    .filter((value) => value.length >= MIN_REDACTED_LENGTH)
    .sort((a, b) => b.length - a.length);
  const hide = (text: string) =>
    values.reduce((out, value) => out.replaceAll(value, REDACTED), text);
  const plain = JSON.parse(JSON.stringify(loaded.config)) as Record<string, unknown>;
  const secrets = Object.fromEntries(
    [...loaded.secrets.values.keys()].map((name) => [name, REDACTED]),
  );
  return scrub({ ...plain, secrets }, hide);
}

// A secret pasted into a clear value (or anywhere else) is hidden too.
function scrub(value: unknown, hide: (text: string) => string): unknown {
  if (typeof value === "string") return hide(value);
  if (Array.isArray(value)) return value.map((item) => scrub(item, hide));
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [hide(k), scrub(v, hide)]));
  }
  return value;
}
