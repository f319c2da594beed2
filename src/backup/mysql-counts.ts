/**
 * Rows per table counted in a mysqldump/mariadb-dump stream as it passes, so the manifest's
 * counts are exactly the dump's (mysqldump's snapshot cannot be shared with another session).
 * The format is regular: `USE \`db\`;`, `CREATE TABLE \`t\``, and extended inserts
 * `INSERT INTO \`t\` VALUES (...),(...);` (MySQL: on one line; MariaDB 10.11+: a tuple per line),
 * strings quoted with backslash escapes (a newline in data is written as \n), binary data as
 * 0x... with --hex-blob. A statement ends at a `;` outside strings and parentheses.
 */
import { Transform, type TransformCallback } from "node:stream";

const USE = /^USE `((?:[^`]|``)+)`;/;
const CREATE = /^CREATE TABLE `((?:[^`]|``)+)`/;
const INSERT = /^INSERT INTO `((?:[^`]|``)+)` VALUES(?: |$)/;
const unquote = (name: string) => name.replaceAll("``", "`");

/** Where a scan of an insert's VALUES stands, carried across lines. */
interface Scan {
  tuples: number;
  depth: number;
  inString: boolean;
  /** A `;` ended the statement. */
  ended: boolean;
}

/** Scans on through VALUES text: counts top-level "(" outside strings, until a top-level ";". */
function scanValues(text: string, scan: Scan): void {
  for (let i = 0; i < text.length && !scan.ended; i++) {
    const c = text.charCodeAt(i);
    if (scan.inString) {
      if (c === 92)
        i++; // backslash: the next character is data
      else if (c === 39) scan.inString = false;
    } else if (c === 39) scan.inString = true;
    else if (c === 40) {
      if (scan.depth === 0) scan.tuples++;
      scan.depth++;
    } else if (c === 41) scan.depth--;
    else if (c === 59 && scan.depth === 0) scan.ended = true;
  }
}

/** Tuples in the VALUES list of one whole extended insert. */
export function countTuples(values: string): number {
  const scan = { tuples: 0, depth: 0, inString: false, ended: false };
  scanValues(values, scan);
  return scan.tuples;
}

/** A pass-through that counts rows per "db.table" in the dump it carries. */
export class MysqlDumpCounter extends Transform {
  private rest = "";
  private database = "";
  /** The "db.table" whose insert is being scanned, across lines. */
  private insert: string | undefined;
  private scan: Scan = { tuples: 0, depth: 0, inString: false, ended: false };
  private readonly counts: Record<string, number> = {};

  override _transform(chunk: Buffer, _e: BufferEncoding, done: TransformCallback): void {
    // latin1: one character per byte; every byte the scan looks for is ASCII.
    const lines = (this.rest + chunk.toString("latin1")).split("\n");
    this.rest = lines.pop() ?? "";
    for (const line of lines) this.line(line);
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    if (this.rest) this.line(this.rest);
    this.rest = "";
    done();
  }

  private line(line: string): void {
    if (this.insert !== undefined) {
      this.values(line);
      return;
    }
    const c = line.charCodeAt(0);
    // Only U, C and I lines can matter.
    if (c !== 73 && c !== 67 && c !== 85) return;
    const insert = INSERT.exec(line);
    if (insert?.[1]) {
      this.insert = `${this.database}.${unquote(insert[1])}`;
      this.scan = { tuples: 0, depth: 0, inString: false, ended: false };
      this.values(line.slice(insert[0].length));
      return;
    }
    const create = CREATE.exec(line);
    if (create?.[1]) {
      this.counts[`${this.database}.${unquote(create[1])}`] ??= 0;
      return;
    }
    const use = USE.exec(line);
    if (use?.[1]) this.database = Buffer.from(unquote(use[1]), "latin1").toString("utf8");
  }

  private values(text: string): void {
    const key = this.insert;
    if (key === undefined) return;
    const before = this.scan.tuples;
    scanValues(text, this.scan);
    this.counts[key] = (this.counts[key] ?? 0) + this.scan.tuples - before;
    if (this.scan.ended) this.insert = undefined;
  }

  /** Rows per table; complete once the stream has ended. */
  tables(): Record<string, number> {
    return { ...this.counts };
  }
}
