/**
 * `slipway secrets rotate NAME`: a new value, the app restarted with it through the health gate,
 * and the old one kept working until then. NAME is an accessory (its password: see
 * planRotation) or a secret of env.secret (its value in the secrets file; the previous file is
 * kept beside it as a way back, and put back when the restart fails).
 */
import {
  accessoryContainer,
  type Credentials,
  type EngineName,
  influxRotation,
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

/**
 * What a rotation did: the login the app used and the one it uses now; a warning when the
 * previous credential could not be retired.
 */
export interface AccessoryRotation {
  from: string;
  to: string;
  warning?: string;
}

/** Runs argv in the accessory's container, with text on its stdin when given; resolves stdout. */
export type InContainer = (argv: readonly string[], stdin?: string) => Promise<string>;

/** How an engine moves the app to a new credential, each step in the accessory's container. */
export interface Move {
  /** Gives the login the app moves to its new password; resolves its credentials. */
  prepare(): Promise<Credentials>;
  /** Undoes prepare after a failed restart, once the files are back to the previous credentials. */
  undo?(next: Credentials): Promise<void>;
  /** Retires the previous credential once the app runs healthy; resolves a warning if it could not. */
  retire(): Promise<string | undefined>;
}

/** Engines whose new password Slipway makes: SQL or commands on the engine's client's stdin. */
function stdinMove(
  run: InContainer,
  engine: Exclude<EngineName, "influxdb">,
  current: Credentials,
): Move {
  const plan = planRotation(engine, current, generateSecret(32));
  redactor.add(plan.next.password);
  return {
    prepare: async () => {
      await run(plan.client, plan.prepare);
      return plan.next;
    },
    retire: async () => {
      const unknown = generateSecret(32);
      redactor.add(unknown);
      await run(plan.client, plan.retire(unknown));
      return undefined;
    },
  };
}

/**
 * InfluxDB: a new operator token that InfluxDB makes, then the old one deleted by its id. Exported
 * for its test (no InfluxDB 2 can run here).
 */
export function influxMove(
  run: InContainer,
  accessory: Pick<ResolvedAccessory, "name">,
  current: Credentials,
): Move {
  return {
    prepare: async () => {
      const description = `slipway ${accessory.name} ${new Date().toISOString()}`;
      const next = influxRotation.created(
        current,
        await run(influxRotation.create(current, description)),
      );
      redactor.add(next.password);
      return next;
    },
    undo: async (next) => {
      if (next.tokenId !== undefined) await run(influxRotation.delete(next.tokenId));
    },
    retire: async () => {
      const id = influxRotation.previousId(current, await run(influxRotation.list()));
      if (id !== undefined) {
        await run(influxRotation.delete(id));
        return undefined;
      }
      return influxRotation.notFound(accessory.name, current);
    },
  };
}

/** Rotates an accessory's password; see planRotation for how the app never loses its login. */
export async function rotateAccessory(
  context: RotateContext,
  accessory: ResolvedAccessory,
): Promise<AccessoryRotation> {
  const { reporter } = context;
  const { engine } = accessory;
  if (engine === "generic") {
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
  const container = accessoryContainer(accessory.site, accessory.name);
  const run: InContainer = async (argv, stdin) =>
    (
      await transport.run(
        dockerExec(container, argv, { interactive: stdin !== undefined }),
        stdin === undefined ? {} : { stdin },
      )
    ).stdout;
  const move =
    engine === "influxdb" ? influxMove(run, accessory, current) : stdinMove(run, engine, current);
  const what = engine === "influxdb" ? "token" : "password";
  let next: Credentials | undefined;
  try {
    await restart({
      ...context,
      beforeSwitch: async () => {
        next = await move.prepare();
        await writeCredentials(transport, accessory, next);
        await writeSecretFiles(transport, accessory, next);
        reporter.info(
          engine === "influxdb"
            ? `${accessory.name}: a new token is made; restarting the app with it`
            : `${accessory.name}: login ${next.user} has a new password; restarting the app with it`,
        );
      },
    });
  } catch (error) {
    // The previous credential still works (it is retired only after success): go back to it.
    if (next) {
      await writeCredentials(transport, accessory, current);
      await writeSecretFiles(transport, accessory, current);
      await move.undo?.(next).catch((undoError: Error) => {
        reporter.warn(`${accessory.name}: could not undo the new ${what}: ${undoError.message}`);
      });
    }
    throw error;
  }
  if (!next) throw new Error("the restart ran no beforeSwitch");
  const warning = await move.retire();
  if (!warning) {
    reporter.info(
      current.user === next.user
        ? `${accessory.name}: the old ${what} no longer opens`
        : `${accessory.name}: the previous login ${current.user} no longer opens with its old password`,
    );
  }
  return { from: current.user, to: next.user, ...(warning ? { warning } : {}) };
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
