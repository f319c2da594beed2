/**
 * Renders the configuration reference in README.md from the JSON Schema of slipway.yml, so the
 * documentation cannot drift from what is validated.
 *   node scripts/gen-config-reference.ts          rewrite the README section
 *   node scripts/gen-config-reference.ts --check  exit 1 when the README is out of date
 */
import { readFileSync, writeFileSync } from "node:fs";
import { configJsonSchema } from "../src/config/index.ts";

type Schema = Record<string, unknown>;
interface Row {
  key: string;
  type: string;
  default: string;
  description: string;
}

const START = "<!-- config-reference:start -->";
const END = "<!-- config-reference:end -->";
const README = new URL("../README.md", import.meta.url);

const asSchema = (value: unknown): Schema | undefined =>
  typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Schema)
    : undefined;
const alternativesOf = (node: Schema): Schema[] =>
  (Array.isArray(node.anyOf) ? (node.anyOf as unknown[]) : []).flatMap((n) => {
    const schema = asSchema(n);
    return schema ? [schema] : [];
  });

/** The type of a schema node in a few words: "duration", "list of host", "map of role". */
function typeName(node: Schema): string {
  if (typeof node.$ref === "string") return node.$ref.endsWith("/overlay") ? "overlay" : "object";
  if (typeof node.title === "string") return node.title;
  const alternatives = alternativesOf(node);
  if (alternatives.length > 0) return alternatives.map(typeName).join(" or ");
  if (Array.isArray(node.enum)) return node.enum.map((v) => String(v)).join(" | ");
  if (Array.isArray(node.type)) return node.type.join(" or ");
  switch (node.type) {
    case "array": {
      const items = asSchema(node.items);
      return items ? `list of ${typeName(items)}` : "list";
    }
    case "object": {
      const values = asSchema(node.additionalProperties);
      if (asSchema(node.properties) || !values || Object.keys(values).length === 0) return "map";
      return `map of ${typeName(values)}`;
    }
    default:
      return typeof node.type === "string" ? node.type : "any";
  }
}

function defaultText(node: Schema, required: boolean): string {
  if (required) return "required";
  if (!("default" in node)) return "";
  const value = node.default;
  if (typeof value === "object" && value !== null && !Array.isArray(value)) return "";
  return `\`${typeof value === "string" ? value : JSON.stringify(value)}\``;
}

function cell(text: string): string {
  return text.replaceAll("|", "\\|").replaceAll("\n", " ");
}

const hasKeys = (node: Schema): boolean =>
  [node, ...alternativesOf(node)].some(
    (n) => asSchema(n.properties) !== undefined || typeof n.$ref === "string",
  );

/** Rows for the keys inside `node`, depth first: maps of objects get a `<name>` row, lists a `[]` one. */
function rowsOf(node: Schema, path: string): Row[] {
  const candidates = [node, ...alternativesOf(node)];
  // A role is "a list of hosts or a map": document the map's keys.
  const withKeys = candidates.find((n) => asSchema(n.properties));
  const properties = asSchema(withKeys?.properties);
  if (withKeys && properties) {
    const required = Array.isArray(withKeys.required) ? withKeys.required : [];
    return Object.entries(properties).flatMap(([key, value]) => {
      const child = asSchema(value) ?? {};
      const childPath = path === "" ? key : `${path}.${key}`;
      return [row(childPath, child, required.includes(key)), ...rowsOf(child, childPath)];
    });
  }
  for (const candidate of candidates) {
    const items = asSchema(candidate.items);
    if (candidate.type === "array" && items) return rowsOf(items, `${path}[]`);
    const values = asSchema(candidate.additionalProperties);
    if (candidate.type === "object" && values && hasKeys(values)) {
      const key = `${path}.<${String(asSchema(candidate.propertyNames)?.title ?? "name")}>`;
      return [row(key, values, false), ...rowsOf(values, key)];
    }
  }
  return [];
}

function row(key: string, node: Schema, required: boolean): Row {
  return {
    key,
    type: typeName(node),
    default: defaultText(node, required),
    description: typeof node.description === "string" ? node.description : "",
  };
}

/** The Markdown that goes between the README markers. */
export function renderReference(schema: Schema): string {
  const table = rowsOf(schema, "").map(
    (r) => `| \`${r.key}\` | ${cell(r.type)} | ${r.default} | ${cell(r.description)} |`,
  );
  return [
    START,
    "## Configuration reference",
    "",
    "Generated from the schema (`src/config/schema.ts`) by `node scripts/gen-config-reference.ts`;",
    "do not edit by hand. `slipway config schema` prints the same schema as JSON Schema for editors.",
    "",
    "- A **duration** is a whole number and a unit: `500ms`, `30s`, `5m`, `1h`, `2d`.",
    "- A **size** is a whole number and a unit, any case, powers of 1024: `512mb`, `1gb`, `10k`.",
    '- A **cron** schedule has five fields (`"0 3 * * *"`) or is `@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`.',
    "- Secrets named in `env.secret` and `registry.password` are read from `.slipway/secrets` beside",
    "  slipway.yml, then `.slipway/secrets.<env>`; a value written `$(command)` is that command's output.",
    "- `-d ENV` applies `environments.ENV`, then `slipway.ENV.yml` beside slipway.yml.",
    "",
    "| Key | Type | Default | Description |",
    "| --- | --- | --- | --- |",
    ...table,
    END,
  ].join("\n");
}

/** README text with the reference section replaced. */
export function withReference(readme: string, reference: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start === -1 || end === -1 || end < start)
    throw new Error(`README.md lacks the ${START} ... ${END} markers`);
  return readme.slice(0, start) + reference + readme.slice(end + END.length);
}

function main(): number {
  const readme = readFileSync(README, "utf8");
  const updated = withReference(readme, renderReference(configJsonSchema() as Schema));
  if (process.argv.includes("--check")) {
    if (updated === readme) return 0;
    process.stderr.write(
      "README.md's configuration reference is out of date: run node scripts/gen-config-reference.ts\n",
    );
    return 1;
  }
  if (updated !== readme) writeFileSync(README, updated);
  return 0;
}

if (import.meta.main) process.exitCode = main();
