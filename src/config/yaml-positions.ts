/**
 * Parses a YAML file into plain data plus the place every value came from, so that any problem
 * found later (schema, secrets, overlays) points at a file, line and column.
 */
import {
  type Alias,
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
} from "yaml";
import type { ConfigIssue } from "../errors/index.ts";
import { formatPath, type Path, pathKey, setKey } from "./paths.ts";

/** Where one value sits in its file; `sourcePath` is its path as written in that file. */
export interface Location {
  file: string;
  line: number;
  column: number;
  /** The key node of a map entry (the value's own position for list items and the root). */
  keyLine: number;
  keyColumn: number;
  sourcePath: Path;
}

/** Locations by pathKey of the value's path in the data they describe. */
export type Locations = Map<string, Location & { path: Path }>;

/** Data read from YAML (or merged from several files) with the location of every value. */
export interface Sourced {
  value: unknown;
  locations: Locations;
}

export interface ParsedYaml {
  source: Sourced;
  issues: ConfigIssue[];
  warnings: string[];
  /** Syntax errors: the data is a best guess, so checking it would only add noise. */
  broken: boolean;
}

// Bounds aliases so that a "billion laughs" file cannot blow up memory.
const MAX_ALIAS_EXPANSIONS = 1000;

const SYNTAX_HINTS: Readonly<Record<string, string>> = {
  TAB_AS_INDENT: "indent with spaces, not tabs",
  MULTIPLE_DOCS: "the file holds one YAML document: remove the extra ---",
  BLOCK_AS_IMPLICIT_KEY: 'quote a value that contains ": ", e.g. cmd: "echo a: b"',
  MULTILINE_IMPLICIT_KEY: "check the indentation: a nested key must be indented under its parent",
  BAD_INDENT: "check the indentation, and that every [ and { is closed",
  MISSING_CHAR: "a quote, ] or } is not closed",
};

interface Point {
  line: number;
  column: number;
}

/** Parses one YAML file; `file` is the name used in issues (as the user typed it). */
export function parseYaml(file: string, text: string): ParsedYaml {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
  const issues: ConfigIssue[] = [];
  const warnings: string[] = [];
  const contentEnd = text.trimEnd().length;

  // Errors at the end of input (an unclosed bracket) point just past the last character.
  const pointAt = (offset: number): Point => {
    if (offset >= contentEnd && contentEnd > 0) {
      const last = lineCounter.linePos(contentEnd - 1);
      return { line: last.line, column: last.col + 1 };
    }
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };

  for (const error of doc.errors) {
    const at = pointAt(error.pos[0]);
    const reason = error.message.charAt(0).toLowerCase() + error.message.slice(1);
    issues.push({
      file,
      ...at,
      path: "",
      message: `YAML syntax error: ${reason}`,
      hint: SYNTAX_HINTS[error.code] ?? "check the YAML syntax on this line and the one before",
    });
  }
  for (const warning of doc.warnings) {
    const at = pointAt(warning.pos[0]);
    warnings.push(`${file}:${at.line}:${at.column}: ${warning.message}`);
  }

  const walker = new Walker(file, doc, pointAt, issues);
  const rootAt = doc.contents ? walker.valuePoint(doc.contents) : undefined;
  const value = walker.walk(doc.contents, [], rootAt ?? { line: 1, column: 1 });
  return {
    source: { value, locations: walker.locations },
    issues,
    warnings,
    broken: doc.errors.length > 0 || walker.badAlias,
  };
}

class Walker {
  readonly locations: Locations = new Map();
  /** An alias that resolves to nothing or expands without end leaves no usable data. */
  badAlias = false;
  private expansions = 0;
  private readonly resolving = new Set<Node>();
  private readonly file: string;
  private readonly doc: Document;
  private readonly pointAt: (offset: number) => Point;
  private readonly issues: ConfigIssue[];

  constructor(
    file: string,
    doc: Document,
    pointAt: (offset: number) => Point,
    issues: ConfigIssue[],
  ) {
    this.file = file;
    this.doc = doc;
    this.pointAt = pointAt;
    this.issues = issues;
  }

  /** Where a value node starts; undefined for an empty value (`key:` with nothing after it). */
  valuePoint(node: unknown): Point | undefined {
    if (!node || typeof node !== "object" || !("range" in node)) return undefined;
    const range = (node as Node).range;
    if (!range) return undefined;
    if (isScalar(node) && node.value === null && range[0] === range[1]) return undefined;
    return this.pointAt(range[0]);
  }

  walk(
    node: unknown,
    path: Path,
    keyAt: Point,
    at: Point = this.valuePoint(node) ?? keyAt,
  ): unknown {
    this.locations.set(pathKey(path), {
      file: this.file,
      line: at.line,
      column: at.column,
      keyLine: keyAt.line,
      keyColumn: keyAt.column,
      sourcePath: path,
      path,
    });
    if (isAlias(node)) return this.walkAlias(node, path, keyAt, at);
    if (isMap(node)) {
      const out: Record<string, unknown> = {};
      const firstLine = new Map<string, number>();
      for (const pair of node.items) {
        const keyNode = pair.key;
        const keyPoint = this.valuePoint(keyNode) ?? at;
        if (isMap(keyNode) || isSeq(keyNode)) {
          this.issue(
            keyPoint,
            path,
            "a key must be a plain string, not a map or a list",
            "write the key as a word, e.g. web:",
          );
          continue;
        }
        const key = String(isScalar(keyNode) ? (keyNode.value ?? "") : (keyNode ?? ""));
        const seen = firstLine.get(key);
        if (seen !== undefined) {
          this.issue(
            keyPoint,
            [...path, key],
            `duplicate key ${JSON.stringify(key)} (first defined on line ${seen})`,
            "a key may appear only once in a map: remove or merge one of them",
          );
          continue;
        }
        firstLine.set(key, keyPoint.line);
        setKey(out, key, this.walk(pair.value, [...path, key], keyPoint));
      }
      return out;
    }
    if (isSeq(node)) {
      return node.items.map((item, i) => {
        const itemAt = this.valuePoint(item) ?? at;
        return this.walk(item, [...path, i], itemAt, itemAt);
      });
    }
    if (isScalar(node)) return node.value;
    return null;
  }

  private walkAlias(node: Alias, path: Path, keyAt: Point, at: Point): unknown {
    const target = node.resolve(this.doc);
    if (!target) {
      this.badAlias = true;
      this.issue(
        at,
        path,
        `alias *${node.source} refers to no anchor`,
        `define &${node.source} before using *${node.source}`,
      );
      return null;
    }
    if (this.resolving.has(target) || ++this.expansions > MAX_ALIAS_EXPANSIONS) {
      // Said once: past the limit every further alias would repeat it.
      if (this.expansions > MAX_ALIAS_EXPANSIONS + 1) return null;
      this.badAlias = true;
      this.issue(
        at,
        path,
        `alias *${node.source} expands too many times`,
        "an alias may not contain itself; use fewer aliases",
      );
      return null;
    }
    this.resolving.add(target);
    // The aliased value's own location stays where *alias is written; its children point at the anchor.
    const value = this.walk(target, path, keyAt, at);
    this.resolving.delete(target);
    return value;
  }

  private issue(at: Point, path: Path, message: string, hint: string): void {
    this.issues.push({
      file: this.file,
      line: at.line,
      column: at.column,
      path: formatPath(path),
      message,
      hint,
    });
  }
}
