/**
 * Reads the generated JSON Schema along a key path: which keys a map may have there, what the
 * value should be and its description. Messages come from the same schema the README documents.
 */
import type { Path } from "./paths.ts";

type JsonSchema = Record<string, unknown>;

const asSchema = (value: unknown): JsonSchema | undefined =>
  typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as JsonSchema)
    : undefined;

// A union (anyOf) or a $ref stands for several schemas; a value may match any of them.
function alternatives(
  node: JsonSchema,
  root: JsonSchema,
  seen = new Set<JsonSchema>(),
): JsonSchema[] {
  if (seen.has(node)) return [];
  seen.add(node);
  const ref = node.$ref;
  if (typeof ref === "string" && ref.startsWith("#/$defs/")) {
    const target = asSchema(asSchema(root.$defs)?.[ref.slice("#/$defs/".length)]);
    return target ? alternatives(target, root, seen) : [];
  }
  const union = [node.anyOf, node.oneOf].find(Array.isArray) as unknown[] | undefined;
  if (union)
    return [
      node,
      ...union.flatMap((n) => (asSchema(n) ? alternatives(n as JsonSchema, root, seen) : [])),
    ];
  return [node];
}

function childSchemas(node: JsonSchema, segment: string | number): JsonSchema[] {
  if (typeof segment === "number") {
    const item = asSchema(node.items);
    return item ? [item] : [];
  }
  const property = asSchema(asSchema(node.properties)?.[segment]);
  if (property) return [property];
  const additional = asSchema(node.additionalProperties);
  return additional ? [additional] : [];
}

/** Every schema node that may describe the value at `path`, unions expanded. */
export function schemaNodesAt(root: object, path: Path): JsonSchema[] {
  const schema = root as JsonSchema;
  let nodes = alternatives(schema, schema);
  for (const segment of path) {
    nodes = nodes
      .flatMap((node) => childSchemas(node, segment))
      .flatMap((n) => alternatives(n, schema));
  }
  return nodes;
}

/** The keys a map at `path` may have, in schema order. */
export function knownKeysAt(root: object, path: Path): string[] {
  const keys = schemaNodesAt(root, path).flatMap((node) =>
    Object.keys(asSchema(node.properties) ?? {}),
  );
  return [...new Set(keys)];
}

/** The description of the value at `path`, or of its nearest described ancestor. */
export function descriptionAt(root: object, path: Path): string | undefined {
  return describedAncestor(root, path)?.description;
}

/** The nearest path (`path` itself or an ancestor) whose schema has a description. */
export function describedAncestor(
  root: object,
  path: Path,
): { path: Path; description: string } | undefined {
  for (let length = path.length; length >= 0; length--) {
    const prefix = path.slice(0, length);
    const described = schemaNodesAt(root, prefix).find((n) => typeof n.description === "string");
    if (described) return { path: prefix, description: described.description as string };
  }
  return undefined;
}

/** What the value at `path` should be, in words: "a duration like \"30s\"", "a list or a map". */
export function expectedAt(root: object, path: Path): string | undefined {
  // The root's title names the file, not a type.
  if (path.length === 0) return "a map";
  const nodes = schemaNodesAt(root, path);
  const first = nodes[0];
  if (first === undefined) return undefined;
  if (typeof first.title === "string") return describeType(first);
  const plain = nodes.filter((n) => !Array.isArray(n.anyOf) && !Array.isArray(n.oneOf));
  return [...new Set(plain.map(describeType))].join(" or ") || undefined;
}

function describeType(node: JsonSchema): string {
  if (typeof node.title === "string") {
    const example = Array.isArray(node.examples) ? node.examples[0] : undefined;
    const article = /^[aeiou]/.test(node.title) ? "an" : "a";
    return typeof example === "string" || typeof example === "number"
      ? `${article} ${node.title} like ${JSON.stringify(example)}`
      : `${article} ${node.title}`;
  }
  if (Array.isArray(node.type)) return node.type.map((type) => describeType({ type })).join(" or ");
  switch (node.type) {
    case "string":
      return Array.isArray(node.enum) ? `one of ${node.enum.join(", ")}` : "a string";
    case "integer":
      return "a whole number";
    case "number":
      return "a number";
    case "boolean":
      return "true or false";
    case "array":
      return "a list";
    case "object":
      return "a map";
    default:
      return "a value";
  }
}
