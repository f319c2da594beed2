/**
 * `slipway secrets generate|set|list|show|diff`: the project's secrets files, edited in place
 * (mode 0600), values never taken from argv and never printed unless asked with --reveal.
 */
import { dirname, resolve } from "node:path";
import { ExitCode, UserError } from "../../errors/index.ts";
import { withConnections } from "../connections.ts";
import type { CommandContext } from "../context.ts";

async function projectDir(context: CommandContext): Promise<string> {
  return dirname(resolve(context.flags.config ?? "slipway.yml"));
}

/** The secrets files a load reads, in order: the shared one, then the environment's. */
async function readOrder(context: CommandContext): Promise<string[]> {
  const { secretsFile } = await import("../../secrets/index.ts");
  const dir = await projectDir(context);
  const env = context.flags.environment;
  return [secretsFile(dir, undefined), ...(env ? [secretsFile(dir, env)] : [])];
}

export async function generate(
  context: CommandContext,
  options: Record<string, unknown>,
  args: string[],
): Promise<number> {
  const secrets = await import("../../secrets/index.ts");
  const [name = ""] = args;
  secrets.checkName(name);
  const length = options.length === undefined ? 32 : Number(options.length);
  const path = secrets.secretsFile(await projectDir(context), context.flags.environment);
  const current = await secrets.readSecretsText(path);
  if (name in secrets.secretValues(current) && options.force !== true) {
    throw new UserError({
      code: "secrets.exists",
      message: `${name} already has a value in ${path}`,
      hint: `replace it with --force (the hosts keep the old one until the next deploy), or rotate it: slipway secrets rotate ${name}`,
    });
  }
  await secrets.writeSecretsText(
    path,
    secrets.upsertSecret(current, name, secrets.generateSecret(length)),
  );
  context.print(`${name}: generated ${length} random characters into ${path}`);
  return ExitCode.ok;
}

/** Reads a value from stdin: a line typed at a terminal (not echoed), or everything piped in. */
async function readValue(name: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks)
      .toString("utf8")
      .replace(/\r?\n$/, "");
  }
  process.stderr.write(`value for ${name} (not shown): `);
  stdin.setRawMode(true);
  return new Promise((done, fail) => {
    let value = "";
    const onData = (data: Buffer) => {
      for (const char of data.toString("utf8")) {
        if (char === "\r" || char === "\n") {
          finish();
          return done(value);
        }
        if (char === "\u0003") {
          finish();
          return fail(new UserError({ code: "secrets.cancelled", message: "cancelled", hint: "" }));
        }
        value = char === "\u007f" ? value.slice(0, -1) : value + char;
      }
    };
    const finish = () => {
      stdin.setRawMode(false);
      stdin.removeListener("data", onData);
      stdin.pause();
      process.stderr.write("\n");
    };
    stdin.on("data", onData);
    stdin.resume();
  });
}

export async function set(context: CommandContext, _o: unknown, args: string[]): Promise<number> {
  const secrets = await import("../../secrets/index.ts");
  const [name = "", ...rest] = args;
  secrets.checkName(name);
  if (rest.length > 0) {
    throw new UserError({
      code: "secrets.argv",
      message: "a secret's value is never taken from the command line (shell history, ps)",
      hint: `pipe it in: printf %s "$VALUE" | slipway secrets set ${name}, or type it when asked`,
      exitCode: ExitCode.usage,
    });
  }
  const value = await readValue(name);
  if (value === "") {
    throw new UserError({
      code: "secrets.empty",
      message: `no value for ${name} on stdin`,
      hint: `pipe it in: printf %s "$VALUE" | slipway secrets set ${name}`,
      exitCode: ExitCode.usage,
    });
  }
  const path = secrets.secretsFile(await projectDir(context), context.flags.environment);
  const current = await secrets.readSecretsText(path);
  await secrets.writeSecretsText(path, secrets.upsertSecret(current, name, value));
  context.print(`${name}: set in ${path}`);
  return ExitCode.ok;
}

export async function list(context: CommandContext): Promise<number> {
  const secrets = await import("../../secrets/index.ts");
  const files = await readOrder(context);
  const rows: { name: string; file: string }[] = [];
  for (const file of files) {
    for (const name of secrets.secretNames(await secrets.readSecretsText(file))) {
      rows.push({ name, file });
    }
  }
  if (context.flags.json) {
    context.print(JSON.stringify(rows, null, 2));
  } else if (rows.length === 0) {
    context.print(`no secrets in ${files.join(" or ")}`);
  } else {
    for (const row of rows) context.print(`${row.name}  (${row.file})`);
  }
  return ExitCode.ok;
}

export async function show(
  context: CommandContext,
  options: Record<string, unknown>,
  args: string[],
): Promise<number> {
  const secrets = await import("../../secrets/index.ts");
  const [name = ""] = args;
  secrets.checkName(name);
  const files = await readOrder(context);
  // The environment's file wins over the shared one, as when the config is loaded.
  let found: { value: string; file: string } | undefined;
  for (const file of files) {
    const value = secrets.secretValues(await secrets.readSecretsText(file))[name];
    if (value !== undefined) found = { value, file };
  }
  if (!found) {
    throw new UserError({
      code: "secrets.unknown",
      message: `${name} is in none of ${files.join(", ")}`,
      hint: `set it: slipway secrets set ${name}, or generate one: slipway secrets generate ${name}`,
    });
  }
  if (options.reveal === true) {
    process.stdout.write(`${found.value}\n`);
  } else {
    context.print(
      `${name}: ${found.value.length} characters, sha256 ${secrets.valueDigest(found.value)}…, in ${found.file} (--reveal prints it)`,
    );
  }
  return ExitCode.ok;
}

/** Local secret values against each host's current env file of each role, by digest. */
export async function diff(context: CommandContext): Promise<number> {
  const secrets = await import("../../secrets/index.ts");
  const { primaryHost, rolesInOrder, siteName } = await import("../../deploy/index.ts");
  const { accessoryDir, resolveAccessories } = await import("../../accessories/index.ts");
  const { envFilePath, readCurrentVersion } = await import("../../releases/index.ts");
  return withConnections(context, async (loaded, connections) => {
    const names = loaded.config.env.secret;
    const site = siteName(loaded.config.service, loaded.environment);
    let differs = false;
    const rows: { host: string; role: string; name: string; state: string }[] = [];
    // One env file on a host (undefined: none there yet) against the local values of `names`.
    const compare = (host: string, role: string, names: readonly string[], envFile?: string) => {
      const states =
        envFile === undefined
          ? new Map(names.map((n) => [n, "not deployed" as const]))
          : secrets.compareSecrets(names, loaded.secrets.values, envFile);
      for (const [name, state] of states) {
        if (state !== "same") differs = true;
        rows.push({ host, role, name, state });
      }
    };
    for (const role of rolesInOrder(loaded.config)) {
      for (const host of role.hosts) {
        const transport = connections.get(host);
        const version = await readCurrentVersion(transport, site, role.name);
        const file = version
          ? await transport.run(["cat", "--", envFilePath(site, role.name, version)], {
              check: false,
            })
          : undefined;
        compare(host, role.name, names, file?.code === 0 ? file.stdout : undefined);
      }
    }
    // Accessories' env.secret: their container's env file, written at boot and restart.
    for (const accessory of resolveAccessories(loaded, primaryHost(loaded.config))) {
      const accessoryNames = loaded.config.accessories?.[accessory.name]?.env?.secret ?? [];
      if (accessoryNames.length === 0) continue;
      const file = await connections
        .get(accessory.host)
        .run(["cat", "--", `${accessoryDir(accessory.site, accessory.name)}/container.env`], {
          check: false,
        });
      const where = `accessory ${accessory.name}`;
      compare(accessory.host, where, accessoryNames, file.code === 0 ? file.stdout : undefined);
    }
    if (context.flags.json) context.print(JSON.stringify(rows, null, 2));
    else for (const r of rows) context.print(`${r.host} ${r.role} ${r.name}: ${r.state}`);
    if (differs && !context.flags.json) {
      context.print(
        "an app that differs takes the local values with slipway deploy (or restart); an accessory with slipway accessory restart NAME",
      );
    }
    if (!context.flags.json && rows.length === 0) context.print("env.secret names no secrets");
    return differs ? ExitCode.failure : ExitCode.ok;
  });
}

/** `rotate NAME`: an accessory's password or a secret of env.secret; needs --yes. */
export async function rotate(
  context: CommandContext,
  options: Record<string, unknown>,
  args: string[],
): Promise<number> {
  const [name = ""] = args;
  if (options.yes !== true) {
    context.print(
      `Would give ${name} a new value and restart the app with it through the health gate; the old value keeps working until then. Nothing was changed: add --yes to do it.`,
    );
    return ExitCode.ok;
  }
  const { resolveAccessories } = await import("../../accessories/index.ts");
  const { primaryHost } = await import("../../deploy/index.ts");
  const { rotateAccessory, rotateAppSecret } = await import("../../secrets/rotate.ts");
  return withConnections(context, async (loaded, connections) => {
    const rotation = { loaded, connections, reporter: context.reporter };
    const accessory = resolveAccessories(loaded, primaryHost(loaded.config)).find(
      (a) => a.name === name,
    );
    if (accessory) {
      const done = await rotateAccessory(rotation, accessory);
      const what = accessory.engine === "influxdb" ? "token" : "password";
      if (done.warning) context.reporter.warn(done.warning);
      context.print(
        done.warning
          ? `${name}: the app now logs in with a new ${what}; the old one may still open (see the warning)`
          : done.from === done.to
            ? `${name}: the app now logs in with a new ${what}; the old one is retired`
            : `${name}: the app now logs in as ${done.to} with a new ${what}; ${done.from}'s old ${what} is retired`,
      );
    } else {
      const done = await rotateAppSecret(rotation, await projectDir(context), name);
      context.print(
        `${name}: new value in ${done.file} (the previous file is kept as ${done.backup}); the app restarted with it`,
      );
    }
    return ExitCode.ok;
  });
}
