/**
 * A throwaway copy of examples/hello aimed at a VPS box, and a way to run the built `slipway`
 * bin in it as a user would (its own HOME, no ssh-agent). Shared by e2e tests and benchmarks.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { appendFile, copyFile, mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { NGINX_IMAGE, NODE_IMAGE, type VpsBox } from "../rig/index.ts";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const BIN = join(ROOT, "dist/cli/main.js");
export const SESSION_SECRET = "e2e-session-secret-value";

export interface SlipwayRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface HelloProject {
  dir: string;
  /** Rewrites slipway.yml with this MESSAGE and extra clear env values. */
  configure(message: string, extraEnv?: Record<string, string>): Promise<void>;
  /** Runs the built bin in the project; never throws. */
  slipway(args: string[]): Promise<SlipwayRun>;
  /** Runs the built bin and asserts it exits 0 (its output in the message when not). */
  ok(args: string[]): Promise<SlipwayRun>;
  /** The environment the bin runs with. */
  env: NodeJS.ProcessEnv;
}

/** Options of {@link helloProject}. */
export interface HelloOptions {
  /** Adds a `registry:` section, its password in .slipway/secrets as REGISTRY_PASSWORD. */
  registry?: { server: string; username: string; password: string };
  /**
   * YAML lines replacing the `servers:` and `ssh:` sections written for the one box (for several
   * hosts, reached through an ~/.ssh/config given as `sshConfig`).
   */
  servers?: string[];
  /** Written to the project's ~/.ssh/config (HOME is the project folder). */
  sshConfig?: string;
  /** Appended to the copied Dockerfile (a HEALTHCHECK, say). */
  dockerfileExtra?: string;
  /** servers.web.volumes of the default servers section. */
  webVolumes?: string[];
  /** YAML lines appended to slipway.yml (a monitoring section, say). */
  extraYaml?: string[];
  /** YAML lines added under proxy: (indented by two spaces: domains, tls...). */
  proxyYaml?: string[];
}

/** A throwaway copy of some files of examples/<example>, and the bin run in it as a user would. */
export interface ExampleProject {
  dir: string;
  env: NodeJS.ProcessEnv;
  /** Runs the built bin in the project; never throws. */
  /** `input` goes to its stdin (a console's commands). */
  slipway(
    args: string[],
    options?: { env?: NodeJS.ProcessEnv; input?: string },
  ): Promise<SlipwayRun>;
}

/** Copies `files` of examples/<example> into a fresh folder that is also the user's HOME. */
export async function exampleProject(
  example: string,
  files: readonly string[],
): Promise<ExampleProject> {
  const dir = await mkdtemp(join(tmpdir(), `slipway-${example}-`));
  for (const file of files) await copyFile(join(ROOT, "examples", example, file), join(dir, file));
  await mkdir(join(dir, ".slipway"));
  await writeFile(join(dir, ".gitignore"), ".slipway/secrets*\n");
  const env = { ...process.env, HOME: dir, SSH_AUTH_SOCK: "" };
  return {
    dir,
    env,
    slipway: (args, options = {}) =>
      new Promise((resolve) => {
        const child = execFile(
          process.execPath,
          [BIN, ...args],
          { cwd: dir, env: { ...env, ...options.env }, maxBuffer: 64 << 20 },
          (error, stdout, stderr) => {
            resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
          },
        );
        if (options.input !== undefined) child.stdin?.end(options.input);
      }),
  };
}

/** Makes the project for a box; call configure() before the first command. */
export async function helloProject(box: VpsBox, options: HelloOptions = {}): Promise<HelloProject> {
  const { dir, env, slipway } = await exampleProject("hello", [
    "Dockerfile",
    "server.mjs",
    ".dockerignore",
  ]);
  if (options.dockerfileExtra) {
    await appendFile(join(dir, "Dockerfile"), `\n${options.dockerfileExtra}\n`);
  }
  if (options.sshConfig !== undefined) {
    await mkdir(join(dir, ".ssh"), { mode: 0o700 });
    await writeFile(join(dir, ".ssh/config"), options.sshConfig, { mode: 0o600 });
  }
  const { registry } = options;
  await writeFile(
    join(dir, ".slipway/secrets"),
    `SESSION_SECRET=${SESSION_SECRET}\n${registry ? `REGISTRY_PASSWORD=${registry.password}\n` : ""}`,
  );
  return {
    dir,
    env,
    configure: async (message, extraEnv = {}) => {
      const clear = { NODE_ENV: "production", MESSAGE: message, ...extraEnv };
      await writeFile(
        join(dir, "slipway.yml"),
        [
          "service: hello",
          "image: hello",
          "build:",
          `  args: { BASE: "${NODE_IMAGE}" }`,
          ...(registry
            ? [
                "registry:",
                `  server: "${registry.server}"`,
                `  username: ${registry.username}`,
                "  password: REGISTRY_PASSWORD",
              ]
            : []),
          ...(options.servers ?? [
            "servers:",
            ...(options.webVolumes
              ? [
                  "  web:",
                  `    hosts: [${box.host}]`,
                  `    volumes: [${options.webVolumes.map((v) => JSON.stringify(v)).join(", ")}]`,
                ]
              : [`  web: [${box.host}]`]),
            "  worker:",
            `    hosts: [${box.host}]`,
            "    cmd: node server.mjs worker",
            "    singleton: true",
            "    ready_after: 1s",
            "    stop_timeout: 5s",
            "ssh:",
            `  port: ${box.port}`,
            `  keys: [${box.clientKey}]`,
          ]),
          "proxy:",
          `  image: ${NGINX_IMAGE}`,
          "  drain_timeout: 1s",
          "  healthcheck: { interval: 500ms, deadline: 10s }",
          ...(options.proxyYaml ?? []),
          "deploy:",
          "  release_command: node server.mjs migrate",
          "env:",
          "  clear:",
          ...Object.entries(clear).map(([k, v]) => `    ${k}: "${v}"`),
          "  secret: [SESSION_SECRET]",
          "releases:",
          "  keep: 2",
          ...(options.extraYaml ?? []),
          "",
        ].join("\n"),
      );
    },
    slipway: (args) => slipway(args),
    ok: async (args) => {
      const run = await slipway(args);
      assert.equal(run.code, 0, `slipway ${args.join(" ")}:\n${run.stdout}\n${run.stderr}`);
      return run;
    },
  };
}
