/** `slipway config check|schema`. */
import { relative } from "node:path";
import { stringify } from "yaml";
import { ExitCode } from "../../errors/index.ts";
import type { CommandContext } from "../context.ts";

/** Validates the configuration and prints it resolved, secrets redacted. */
export async function check(context: CommandContext): Promise<number> {
  const { redactedConfig } = await import("../../config/index.ts");
  const loaded = await context.loadConfig();
  const resolved = redactedConfig(loaded);
  if (context.flags.json) {
    context.print(
      JSON.stringify(
        {
          ok: true,
          file: loaded.file,
          environment: loaded.environment ?? null,
          warnings: loaded.warnings,
          config: resolved,
        },
        null,
        2,
      ),
    );
    return ExitCode.ok;
  }
  for (const warning of loaded.warnings) context.reporter.warn(warning);
  context.print(stringify(resolved).trimEnd());
  const environment = loaded.environment ? ` (environment ${loaded.environment})` : "";
  context.reporter.info(`${relative(process.cwd(), loaded.file)}${environment} is valid.`);
  return ExitCode.ok;
}

/** Prints the JSON Schema of slipway.yml. */
export async function schema(context: CommandContext): Promise<number> {
  const { configJsonSchema } = await import("../../config/index.ts");
  context.print(JSON.stringify(configJsonSchema(), null, 2));
  return ExitCode.ok;
}
