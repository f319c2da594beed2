/**
 * Warnings for values in slipway.yml that look like secrets: plain env whose name says password,
 * token or key, or whose value has the shape of a credential (a URL with a password, a provider's
 * key prefix, a private key). slipway.yml is committed; these belong in .slipway/secrets.
 */
import { issueAt } from "./issues.ts";
import { isMap, type Path, valueAt } from "./paths.ts";
import type { Sourced } from "./yaml-positions.ts";

const SECRET_NAME = /(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL)/i;

const SECRET_SHAPES: readonly [RegExp, string][] = [
  [/^[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:[^/\s@]+@/i, "a URL with a password in it"],
  [/^AKIA[0-9A-Z]{16}$/, "an AWS access key"],
  [/^(sk|rk)_live_[0-9A-Za-z]{10,}/, "a Stripe live key"],
  [/^gh[pousr]_[0-9A-Za-z]{30,}/, "a GitHub token"],
  [/^xox[abposr]-/, "a Slack token"],
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----/, "a private key"],
];

/** One warning per env.clear value (the app's and each accessory's) that looks secret. */
export function secretLookingWarnings(source: Sourced): string[] {
  const warnings: string[] = [];
  const envPaths: Path[] = [["env", "clear"]];
  const accessories = valueAt(source.value, ["accessories"]);
  if (isMap(accessories)) {
    for (const name of Object.keys(accessories))
      envPaths.push(["accessories", name, "env", "clear"]);
  }
  for (const envPath of envPaths) {
    const clear = valueAt(source.value, envPath);
    if (!isMap(clear)) continue;
    for (const [name, raw] of Object.entries(clear)) {
      if (typeof raw !== "string" || raw === "") continue;
      const shape = SECRET_SHAPES.find(([pattern]) => pattern.test(raw))?.[1];
      const why =
        shape ??
        (SECRET_NAME.test(name)
          ? `its name says ${SECRET_NAME.exec(name)?.[1]?.toLowerCase()}`
          : undefined);
      if (!why) continue;
      const issue = issueAt(source.locations, [...envPath, name], "value", "", "");
      warnings.push(
        `${issue.file}:${issue.line}:${issue.column} ${issue.path} looks like a secret (${why}), and slipway.yml is committed: list ${name} under env.secret and put its value in .slipway/secrets`,
      );
    }
  }
  return warnings;
}
