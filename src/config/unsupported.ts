/**
 * Sections the schema already validates but no command implements yet. Accepting them silently
 * would suggest backups or monitoring are running when they are not, so each is an error.
 */
import type { ConfigIssue } from "../errors/index.ts";
import { issueAt } from "./issues.ts";
import { isMap } from "./paths.ts";
import type { Sourced } from "./yaml-positions.ts";

/** Section -> what will bring it. Delete an entry when that work lands. */
export const UNSUPPORTED_SECTIONS: Readonly<Record<string, string>> = {};

/** One issue per unsupported top-level section present in `source`, at its key. */
export function unsupportedSectionIssues(source: Sourced): ConfigIssue[] {
  if (!isMap(source.value)) return [];
  const present = Object.keys(source.value).filter((key) =>
    Object.hasOwn(UNSUPPORTED_SECTIONS, key),
  );
  return present.map((key) =>
    issueAt(
      source.locations,
      [key],
      "key",
      `${key} is not supported yet`,
      `${key} will come with ${UNSUPPORTED_SECTIONS[key]}; remove the section for now`,
    ),
  );
}
