/** The JSON Schema: described, valid for every example, and the source of the README reference. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Ajv2020 } from "ajv/dist/2020.js";
import { parse } from "yaml";
import { configJsonSchema, loadConfig } from "../../../src/config/index.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const EXAMPLES = join(ROOT, "examples");
type Schema = Record<string, unknown>;

/** Every key of every map in the schema, with its path, depth first. */
function keysOf(node: Schema, path: string, out: [string, Schema][] = []): [string, Schema][] {
  for (const candidate of [node, ...((node.anyOf as Schema[] | undefined) ?? [])]) {
    for (const [key, child] of Object.entries(
      (candidate.properties as Record<string, Schema>) ?? {},
    )) {
      out.push([`${path}${key}`, child]);
      keysOf(child, `${path}${key}.`, out);
    }
    const values = candidate.additionalProperties;
    if (typeof values === "object" && values !== null)
      keysOf(values as Schema, `${path}<name>.`, out);
    if (typeof candidate.items === "object") keysOf(candidate.items as Schema, `${path}[].`, out);
  }
  return out;
}

async function exampleFiles(): Promise<{ dir: string; main: string; overlays: string[] }[]> {
  const dirs = await readdir(EXAMPLES);
  return Promise.all(
    dirs.sort().map(async (dir) => {
      const files = (await readdir(join(EXAMPLES, dir))).filter((f) =>
        /^slipway(\.[a-z0-9-]+)?\.yml$/.test(f),
      );
      return { dir, main: "slipway.yml", overlays: files.filter((f) => f !== "slipway.yml") };
    }),
  );
}

describe("configJsonSchema", () => {
  it("is a draft 2020-12 schema with a description on every key", () => {
    const schema = configJsonSchema() as Schema;
    assert.equal(schema.$schema, "https://json-schema.org/draft/2020-12/schema");
    const keys = keysOf(schema, "");
    assert.ok(keys.length > 60, `only ${keys.length} keys`);
    const undescribed = keys
      .filter(([, node]) => typeof node.description !== "string")
      .map(([path]) => path);
    assert.deepEqual(undescribed, []);
  });

  it("returns a fresh copy each time", () => {
    const first = configJsonSchema() as Schema;
    first.title = "changed";
    assert.notEqual((configJsonSchema() as Schema).title, "changed");
  });
});

describe("examples", () => {
  const ajv = new Ajv2020({ allErrors: true });
  ajv.addSchema(configJsonSchema(), "slipway");
  const validateFile = ajv.getSchema("slipway");
  const validateOverlay = ajv.getSchema("slipway#/$defs/overlay");

  it("has at least the hello example and three in all", async () => {
    const examples = await exampleFiles();
    assert.ok(examples.some((e) => e.dir === "hello"));
    assert.ok(examples.length >= 3);
  });

  it("every file validates against the JSON Schema with ajv", async () => {
    assert.ok(validateFile && validateOverlay);
    for (const { dir, main, overlays } of await exampleFiles()) {
      const data = parse(await readFile(join(EXAMPLES, dir, main), "utf8"));
      assert.ok(validateFile(data), `${dir}/${main}: ${ajv.errorsText(validateFile.errors)}`);
      for (const overlay of overlays) {
        const overlayData = parse(await readFile(join(EXAMPLES, dir, overlay), "utf8"));
        assert.ok(
          validateOverlay(overlayData),
          `${dir}/${overlay}: ${ajv.errorsText(validateOverlay.errors)}`,
        );
      }
    }
  });

  it("every example loads without issues, in every environment", async () => {
    for (const { dir, main, overlays } of await exampleFiles()) {
      const data = parse(await readFile(join(EXAMPLES, dir, main), "utf8")) as Schema;
      const environments = [
        undefined,
        ...Object.keys((data.environments as Schema | undefined) ?? {}),
        ...overlays.map((f) => basename(f, ".yml").slice("slipway.".length)),
      ];
      for (const environment of new Set(environments)) {
        const loaded = await loadConfig({
          cwd: join(EXAMPLES, dir),
          ...(environment ? { environment } : {}),
        });
        assert.equal(loaded.config.service.length > 0, true, `${dir} ${environment ?? ""}`);
      }
    }
  });

  it("the hello example is the demo's app", async () => {
    const { config, secrets } = await loadConfig({ cwd: join(EXAMPLES, "hello") });
    assert.deepEqual(
      {
        service: config.service,
        image: config.image,
        servers: config.servers,
        port: config.ssh.port,
        app: [config.proxy.app_port, config.proxy.healthcheck.path],
        env: config.env,
        secrets: [...secrets.values.keys()],
      },
      {
        service: "hello",
        image: "hello",
        servers: {
          web: {
            hosts: ["127.0.0.1"],
            singleton: false,
            stop_timeout: 30_000,
            ready_after: 5_000,
            ready_timeout: 60_000,
            volumes: [],
            options: {},
          },
        },
        port: 2222,
        app: [3000, "/up"],
        env: {
          clear: { NODE_ENV: "production", MESSAGE: "Hello from Slipway" },
          secret: ["SESSION_SECRET"],
        },
        secrets: ["SESSION_SECRET"],
      },
    );
  });

  it("rejects what the loader rejects, for editors", () => {
    assert.ok(validateFile);
    assert.equal(validateFile({ service: "a", image: "a", servrs: {} }), false);
    assert.equal(validateFile({ service: "a", image: "a", servers: { web: [] } }), false);
    assert.equal(
      validateFile({
        service: "a",
        image: "a",
        servers: { web: ["h"] },
        ssh: { connect_timeout: "30" },
      }),
      false,
    );
  });
});

describe("README configuration reference", () => {
  it("is up to date (scripts/gen-config-reference.ts --check)", async () => {
    const node = process.execPath;
    const script = join(ROOT, "scripts", "gen-config-reference.ts");
    await assert.doesNotReject(promisify(execFile)(node, [script, "--check"], { cwd: ROOT }));
  });
});
