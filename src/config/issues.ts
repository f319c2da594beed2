/**
 * Turns problems found in merged data into ConfigIssues that point at the file, line and column
 * the offending value came from, with a message and a hint written for people.
 */
import type { z } from "zod";
import type { ConfigIssue } from "../errors/index.ts";
import { formatPath, isMap, type Path, pathKey, valueAt } from "./paths.ts";
import { describedAncestor, descriptionAt, expectedAt, knownKeysAt } from "./schema-walk.ts";
import { closestKey, unknownKeyHint } from "./suggest.ts";
import type { Locations } from "./yaml-positions.ts";

/** Which node an issue points at: a map entry's key, a value, or the map missing a key. */
export type Anchor = "key" | "value" | "missing";

/** A ConfigIssue about `path` of merged data, located through `locations`. */
export function issueAt(
  locations: Locations,
  path: Path,
  anchor: Anchor,
  message: string,
  hint: string,
): ConfigIssue {
  // A missing key has no node: point at the map that should hold it.
  let length = anchor === "missing" ? path.length - 1 : path.length;
  let location = locations.get(pathKey(path.slice(0, length)));
  while (location === undefined && length > 0) {
    length--;
    location = locations.get(pathKey(path.slice(0, length)));
  }
  const exact = length === path.length;
  return {
    file: location?.file ?? "",
    line: (anchor === "key" && exact ? location?.keyLine : location?.line) ?? 1,
    column: (anchor === "key" && exact ? location?.keyColumn : location?.column) ?? 1,
    path: formatPath([...(location?.sourcePath ?? []), ...path.slice(length)]),
    message,
    hint,
  };
}

/** What the schema checks need to phrase an issue: the data, its locations, the JSON Schema. */
export interface IssueContext {
  data: unknown;
  locations: Locations;
  jsonSchema: object;
}

/** Converts zod's issues into located ConfigIssues (one per unknown key, unions resolved). */
export function fromZodIssues(
  issues: readonly z.core.$ZodIssue[],
  context: IssueContext,
): ConfigIssue[] {
  const converted = issues.flatMap((issue) => convert(issue, [], context));
  // "unknown key servrs, did you mean servers?" already says what "missing key servers" would.
  const meant = new Set(converted.flatMap((c) => (c.meant === undefined ? [] : [c.meant])));
  return converted
    .filter((c) => c.missing === undefined || !meant.has(c.missing))
    .map((c) => c.issue);
}

/** An issue, plus the pathKey of a missing key it reports or of the key a typo probably meant. */
interface Converted {
  issue: ConfigIssue;
  missing?: string;
  meant?: string;
}

function convert(issue: z.core.$ZodIssue, base: Path, context: IssueContext): Converted[] {
  const path: Path = [...base, ...issue.path.map((s) => (typeof s === "symbol" ? String(s) : s))];
  const at = (anchor: Anchor, message: string, hint?: string): Converted[] => [
    {
      issue: issueAt(
        context.locations,
        path,
        anchor,
        message,
        hint ?? describedHint(context, path),
      ),
      ...(anchor === "missing" ? { missing: pathKey(path) } : {}),
    },
  ];
  const value = valueAt(context.data, path);

  switch (issue.code) {
    case "unrecognized_keys": {
      const known = knownKeysAt(context.jsonSchema, path);
      return issue.keys.map((key) => {
        const suggestion = closestKey(key, known);
        return {
          issue: issueAt(
            context.locations,
            [...path, key],
            "key",
            `unknown key ${JSON.stringify(key)}`,
            unknownKeyHint(key, known),
          ),
          ...(suggestion === undefined ? {} : { meant: pathKey([...path, suggestion]) }),
        };
      });
    }
    case "invalid_union": {
      // One alternative failing on its own terms (not "wrong type altogether") says what is wrong.
      const relevant = issue.errors.find(
        (branch) => !branch.some((i) => i.code === "invalid_type" && i.path.length === 0),
      );
      if (relevant) return relevant.flatMap((i) => convert(i, path, context));
      return at(
        "value",
        `expected ${expectedAt(context.jsonSchema, path) ?? "another type"}, got ${describeValue(value)}`,
      );
    }
    case "invalid_key": {
      const inner = issue.issues[0];
      const hint = inner?.code === "custom" ? hintParam(inner) : undefined;
      return at("key", inner?.message ?? `invalid key ${JSON.stringify(path.at(-1))}`, hint);
    }
    case "invalid_type": {
      const parent = valueAt(context.data, path.slice(0, -1));
      const key = path.at(-1);
      if (
        value === undefined &&
        typeof key === "string" &&
        isMap(parent) &&
        !Object.hasOwn(parent, key)
      ) {
        const what = descriptionAt(context.jsonSchema, path);
        return at(
          "missing",
          `missing required key ${JSON.stringify(key)}`,
          `add "${key}:" here${what ? ` (${asClause(what)})` : ""}`,
        );
      }
      const expected = expectedAt(context.jsonSchema, path) ?? `a ${issue.expected}`;
      return at("value", `expected ${expected}, got ${describeValue(value)}`);
    }
    case "too_small":
      return at("value", tooSmall(issue, value));
    case "too_big":
      return at("value", tooBig(issue, value));
    case "invalid_value":
      return at(
        "value",
        `must be one of ${issue.values.map((v) => String(v)).join(", ")}, got ${describeValue(value)}`,
      );
    case "custom":
      return at("value", issue.message, hintParam(issue));
    default:
      return at("value", issue.message);
  }
}

function tooSmall(issue: z.core.$ZodIssueTooSmall, value: unknown): string {
  const minimum = Number(issue.minimum);
  if (issue.origin === "array")
    return minimum <= 1 ? "must not be empty" : `must list at least ${minimum} items`;
  if (issue.origin === "string")
    return minimum <= 1 ? "must not be empty" : `must be at least ${minimum} characters`;
  return issue.inclusive === false
    ? `must be more than ${minimum}, got ${describeValue(value)}`
    : `must be at least ${minimum}, got ${describeValue(value)}`;
}

function tooBig(issue: z.core.$ZodIssueTooBig, value: unknown): string {
  const maximum = Number(issue.maximum);
  if (issue.origin === "array") return `must list at most ${maximum} items`;
  if (issue.origin === "string") return `must be at most ${maximum} characters`;
  return issue.inclusive === false
    ? `must be less than ${maximum}, got ${describeValue(value)}`
    : `must be at most ${maximum}, got ${describeValue(value)}`;
}

function hintParam(issue: z.core.$ZodIssueCustom): string | undefined {
  const hint = issue.params?.hint;
  return typeof hint === "string" ? hint : undefined;
}

function describedHint(context: IssueContext, path: Path): string {
  const described = describedAncestor(context.jsonSchema, path);
  if (described === undefined) return "see the configuration reference in README.md";
  const key = [...described.path].reverse().find((s) => typeof s === "string");
  return key === undefined ? described.description : `${key}: ${asClause(described.description)}`;
}

// "Hostnames or IP addresses." reads as a clause after "hosts:" once lowercased, unless it is an acronym.
function asClause(description: string): string {
  const trimmed = description.replace(/\.$/, "");
  return /^[A-Z][a-z]/.test(trimmed) ? trimmed.charAt(0).toLowerCase() + trimmed.slice(1) : trimmed;
}

/** A value as a message shows it: `"30"`, `30`, `a list`, `an empty value`. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return "an empty value";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a map";
  if (typeof value === "string")
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  return String(value);
}

/** Sorts issues by file (in the order given), line and column, dropping exact repeats. */
export function sortIssues(
  issues: readonly ConfigIssue[],
  fileOrder: readonly string[],
): ConfigIssue[] {
  const rank = (file: string) => {
    const i = fileOrder.indexOf(file);
    return i === -1 ? fileOrder.length : i;
  };
  const seen = new Set<string>();
  const unique = issues.filter((issue) => {
    const key = JSON.stringify([issue.file, issue.line, issue.column, issue.path, issue.message]);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return unique.sort(
    (a, b) =>
      rank(a.file) - rank(b.file) ||
      a.file.localeCompare(b.file) ||
      a.line - b.line ||
      a.column - b.column,
  );
}
