/**
 * `slipway secrets rotate NAME`: a new value, the app restarted with it through the health gate,
 * and the old one kept working until then. NAME is an accessory (its password: see
 * planRotation) or a secret of env.secret (its value in the secrets file; the previous file is
 * kept beside it as a way back, and put back when the restart fails).
 */
import {
  accessoryContainer,
  planRotation,
  type ResolvedAccessory,
  readCredentials,
  writeCredentials,
  writeSecretFiles,
} from "../accessories/index.ts";
import type { LoadedConfig } from "../config/index.ts";
import { restart } from "../deploy/index.ts";
import { dockerExec } from "../engine/index.ts";
import { UserError } from "../errors/index.ts";
import { type Reporter, redactor } from "../output/index.ts";
import type { Connections } from "../transport/index.ts";
import { generateSecret } from "./file.ts";
import {
  readSecretsText,
  secretsFile,
  secretValues,
  upsertSecret,
  writeSecretsText,
} from "./index.ts";

interface RotateContext {
  loaded: LoadedConfig;
  connections: Connections;
  reporter: Reporter;
}

/** Rotates an accessory's password; see planRotation for how the app never loses its login. */
export async function rotateAccessory(
  context: RotateContext,
  accessory: ResolvedAccessory,
): Promise<{ from: string; to: string }> {
  const { reporter } = context;
  if (accessory.engine === "generic") {
    throw new UserError({
      code: "rotate.generic",
      message: `accessory ${accessory.name} is generic: Slipway keeps no password of it`,
      hint: "its secrets are names of its env.secret: change them in .slipway/secrets, then slipway accessory restart NAME",
    });
  }
  const transport = context.connections.get(accessory.host);
  const current = await readCredentials(transport, accessory);
  if (!current) {
    throw new UserError({
      code: "rotate.not_booted",
      message: `accessory ${accessory.name} has no credentials on ${accessory.host} yet`,
      hint: `boot it first: slipway accessory boot ${accessory.name}`,
    });
  }
  const plan = planRotation(accessory.engine, current, generateSecret(32));
  redactor.add(plan.next.password);
  const container = accessoryContainer(accessory.site, accessory.name);
  const sql = (text: string) =>
    transport.run(dockerExec(container, plan.client, { interactive: true }), { stdin: text });
  let moved = false;
  try {
    await restart({
      ...context,
      beforeSwitch: async () => {
        await sql(plan.prepare);
        moved = true;
        await writeCredentials(transport, accessory, plan.next);
        await writeSecretFiles(transport, accessory, plan.next);
        reporter.info(
          `${accessory.name}: login ${plan.next.user} has a new password; restarting the app with it`,
        );
      },
    });
  } catch (error) {
    // The previous login still works (it is retired only after success): go back to it.
    if (moved) {
      await writeCredentials(transport, accessory, current);
      await writeSecretFiles(transport, accessory, current);
    }
    throw error;
  }
  const unknown = generateSecret(32);
  redactor.add(unknown);
  await sql(plan.retire(unknown));
  reporter.info(
    current.user === plan.next.user
      ? `${accessory.name}: the old password no longer opens`
      : `${accessory.name}: the previous login ${current.user} no longer opens with its old password`,
  );
  return { from: current.user, to: plan.next.user };
}

/** Rotates a secret of env.secret: a new value in its file, the app restarted with it. */
export async function rotateAppSecret(
  context: RotateContext,
  projectDir: string,
  name: string,
): Promise<{ file: string; backup: string }> {
  const { loaded } = context;
  if (!loaded.config.env.secret.includes(name)) {
    throw new UserError({
      code: "rotate.unknown",
      message: `${name} is neither an accessory nor a secret of env.secret`,
      hint: `accessories: ${Object.keys(loaded.config.accessories ?? {}).join(", ") || "none"}; env.secret: ${loaded.config.env.secret.join(", ") || "none"}`,
    });
  }
  // The file the value comes from now: the environment's when it defines it, else the shared one.
  const envFile = loaded.environment ? secretsFile(projectDir, loaded.environment) : undefined;
  const envText = envFile ? await readSecretsText(envFile) : "";
  const file =
    envFile && name in secretValues(envText) ? envFile : secretsFile(projectDir, undefined);
  const before = await readSecretsText(file);
  const previous = secretValues(before)[name];
  if (previous !== undefined && /^\$\(.+\)$/s.test(previous)) {
    throw new UserError({
      code: "rotate.command",
      message: `${name} comes from a command (${file}), so Slipway cannot store a new value`,
      hint: "rotate it in the password manager the command reads, then slipway restart",
    });
  }
  const value = generateSecret(Math.max(32, previous?.length ?? 0));
  redactor.add(value);
  const backup = `${file}.previous`;
  await writeSecretsText(backup, before);
  await writeSecretsText(file, upsertSecret(before, name, value));
  try {
    await restart({ ...context, envOverrides: new Map([[name, value]]) });
  } catch (error) {
    await writeSecretsText(file, before);
    throw error;
  }
  return { file, backup };
}
