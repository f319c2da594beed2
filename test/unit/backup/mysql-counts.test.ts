/**
 * Rows counted in a mysqldump stream: extended inserts (on one line, or a tuple per line as
 * MariaDB writes them) whose strings hold parentheses, quotes, semicolons,
 * backslashes and escaped newlines, several databases, empty tables, and chunks cut anywhere.
 */
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { describe, it } from "node:test";
import { countTuples, MysqlDumpCounter } from "../../../src/backup/mysql-counts.ts";

const dump = [
  "-- MariaDB dump 10.19",
  "CREATE DATABASE /*!32312 IF NOT EXISTS*/ `app` /*!40100 DEFAULT CHARACTER SET utf8mb4 */;",
  "USE `app`;",
  "DROP TABLE IF EXISTS `items`;",
  "CREATE TABLE `items` (",
  "  `id` int(11) NOT NULL,",
  "  `name` text DEFAULT NULL",
  ") ENGINE=InnoDB;",
  "INSERT INTO `items` VALUES (1,'a),(b'),(2,'it\\'s \\\\'),(3,'line\\nbreak (x)'),(4,NULL);",
  "INSERT INTO `items` VALUES (5,0x28292C28),(6,'é ü');",
  "CREATE TABLE `empty``one` (",
  "  `x` int",
  ");",
  "CREATE TABLE `INSERTS` (`x` int);",
  "INSERT INTO `INSERTS` VALUES (1);",
  "INSERT INTO `items` VALUES",
  "(7,'MariaDB 10.11 puts a tuple on each line'),",
  "(8,'even; with (a) semicolon');",
  "USE `other`;",
  "CREATE TABLE `items` (`id` int);",
  "INSERT INTO `items` VALUES (1),(2);",
  "",
].join("\n");

describe("MysqlDumpCounter", () => {
  it("counts top-level tuples, not parentheses in strings", () => {
    assert.equal(countTuples("(1,'a),(b'),(2,'it\\'s \\\\'),(3,'x');"), 3);
    assert.equal(countTuples("(1,0x2829),(2,'(((');"), 2);
  });

  it("counts rows per database.table over a stream cut into 7-byte chunks, passing it unchanged", async () => {
    const counter = new MysqlDumpCounter();
    const bytes = Buffer.from(dump);
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 7) chunks.push(bytes.subarray(i, i + 7));
    const out: Buffer[] = [];
    await pipeline(Readable.from(chunks), counter, async (source) => {
      for await (const c of source) out.push(c as Buffer);
    });
    assert.equal(Buffer.concat(out).toString(), dump);
    assert.deepEqual(counter.tables(), {
      "app.items": 8,
      "app.empty`one": 0,
      "app.INSERTS": 1,
      "other.items": 2,
    });
  });
});
