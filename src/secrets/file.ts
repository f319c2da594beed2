/**
 * Editing a dotenv secrets file without disturbing it: one NAME=value line replaced in place or
 * appended, comments, order and other lines kept. Values are written so dotenv reads them back
 * exactly; a value no env file can hold (a line break) is refused. Pure.
 */
import { randomBytes } from "node:crypto";
import { parse } from "dotenv";
import { UserError } from "../errors/index.ts";

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const BARE = /^[A-Za-z0-9_\-.,/+=:@%]*$/;

/** The value as dotenv should read it back: bare, single-quoted, or double-quoted. */
export function formatValue(name: string, value: string): string {
  if (/[\r\n\0]/.test(value)) {
    throw new UserError({
      code: "secrets.multiline",
      message: `${name} has a line break, which a container env file cannot hold`,
      hint: `store it base64-encoded (for example ${name}_B64) and decode it in the app`,
    });
  }
  if (BARE.test(value)) return value;
  if (!value.includes("'")) return `'${value}'`;
  if (!value.includes('"') && !value.includes("\\")) return `"${value}"`;
  throw new UserError({
    code: "secrets.quotes",
    message: `${name} holds both kinds of quotes, which a dotenv line cannot hold exactly`,
    hint: `store it base64-encoded (for example ${name}_B64) and decode it in the app`,
  });
}

/** The file's text with NAME set to value: its line replaced, or one appended. */
export function upsertSecret(text: string, name: string, value: string): string {
  checkName(name);
  const line = `${name}=${formatValue(name, value)}`;
  const lines = text === "" ? [] : text.replace(/\r\n?/g, "\n").replace(/\n$/, "").split("\n");
  const at = lines.findIndex((l) => definedName(l) === name);
  if (at >= 0) lines[at] = line;
  else lines.push(line);
  const out = `${lines.join("\n")}\n`;
  // What dotenv reads back is the contract: check it rather than trust the quoting above.
  if (parse(out)[name] !== value)
    throw new Error(`secrets: ${name} would not read back as written`);
  return out;
}

/** The name a line defines, if any ("export NAME=..." included). */
function definedName(line: string): string | undefined {
  return /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=/.exec(line)?.[1];
}

/** The names a file defines, in order. */
export function secretNames(text: string): string[] {
  return Object.keys(parse(text));
}

export function checkName(name: string): void {
  if (!NAME.test(name)) {
    throw new UserError({
      code: "secrets.name",
      message: `"${name}" is not a variable name`,
      hint: "use letters, digits and _, not starting with a digit, e.g. SESSION_SECRET",
    });
  }
}

/** A crypto-random, URL-safe value of `length` characters (base64url alphabet). */
export function generateSecret(length = 32, random: (n: number) => Buffer = randomBytes): string {
  if (!Number.isInteger(length) || length < 16 || length > 4096) {
    throw new UserError({
      code: "secrets.length",
      message: `--length ${length} is not a length from 16 to 4096`,
      hint: "32 (the default) gives 192 bits of randomness",
    });
  }
  return random(Math.ceil((length * 3) / 4))
    .toString("base64url")
    .slice(0, length);
}
