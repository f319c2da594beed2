import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  isEmptyPrune,
  type PruneFacts,
  parseEnvFileName,
  planPrune,
  pruneSteps,
  readPruneFacts,
} from "../../../src/operations/prune/index.ts";
import type { ReleaseRecord } from "../../../src/releases/index.ts";
import {
  type Command,
  isArgv,
  type RunResult,
  type Transport,
} from "../../../src/transport/index.ts";
import { listed } from "./fixtures.ts";

function record(
  version: string,
  role: string,
  outcome: ReleaseRecord["outcome"] = "deployed",
  image = `hello:${version}`,
): ReleaseRecord {
  return {
    version,
    image,
    imageId: "sha256:0",
    envDigest: "sha256:0",
    role,
    kind: outcome === "rolled-back" ? "rollback" : outcome === "restarted" ? "restart" : "deploy",
    outcome,
    by: "alice",
    machine: "laptop",
    at: "2026-05-01T10:00:00.000Z",
    durationMs: 1000,
  };
}

// What the deploy end-to-end test leaves: v1, v2, v3 failing its gate, v4 whose release command
// failed (env file, image, no record), a rollback to v1, then v5.
const history = [
  record("v1", "web"),
  record("v1", "worker"),
  record("v2", "web"),
  record("v2", "worker"),
  record("v3", "web", "health-failed"),
  record("v1", "web", "rolled-back"),
  record("v1", "worker", "rolled-back"),
  record("v5", "web"),
  record("v5", "worker"),
];
const envFiles = ["v1", "v2", "v3", "v4", "v5"].flatMap((v) =>
  v === "v3" || v === "v4" ? [`web-${v}.env`] : [`web-${v}.env`, `worker-${v}.env`],
);
const images = ["v1", "v2", "v3", "v4", "v5"].map((v) => `hello:${v}`);

function facts(overrides: Partial<PruneFacts> = {}): PruneFacts {
  return {
    site: "hello",
    records: history,
    roles: [
      { name: "web", current: "v5" },
      { name: "worker", current: "v5" },
    ],
    knownRoles: ["web", "worker"],
    keep: 2,
    containers: [],
    envFiles,
    image: "hello:v5",
    presentImages: images,
    dangling: [],
    otherSites: [],
    ...overrides,
  };
}

describe("prune planning", () => {
  it("keeps the current and the newest kept releases, and removes the rest of them", () => {
    const plan = planPrune(facts());
    assert.deepEqual(plan.kept, [
      { role: "web", versions: ["v5", "v1"] },
      { role: "worker", versions: ["v5", "v1"] },
    ]);
    assert.deepEqual(plan.envFiles.sort(), [
      "/var/lib/slipway/hello/env/web-v2.env",
      "/var/lib/slipway/hello/env/web-v3.env",
      "/var/lib/slipway/hello/env/web-v4.env",
      "/var/lib/slipway/hello/env/worker-v2.env",
    ]);
    // v4 has no record: its image is found through its env file.
    assert.deepEqual(plan.images.sort(), ["hello:v2", "hello:v3", "hello:v4"]);
  });

  it("leaves the images another environment on the host runs or keeps (same image names)", () => {
    // Staging runs v2 and keeps v3 (both env files there); its v4 was pruned (no env file).
    const staging = {
      site: "hello-staging",
      records: [record("v2", "web"), record("v3", "web"), record("v4", "web")].map((r) =>
        r.version === "v3" ? { ...r, image: "localhost/hello:v3" } : r,
      ),
      envFiles: ["web-v2.env", "web-v3.env"],
    };
    const plan = planPrune(facts({ otherSites: [staging] }));
    // Production alone would remove v2, v3 and v4 (see above); staging still needs v2 and v3.
    assert.deepEqual(plan.images, ["hello:v4"]);
    // Its env files are its own: only production's are pruned.
    assert.ok(plan.envFiles.every((f) => f.startsWith("/var/lib/slipway/hello/env/")));
    const last = pruneSteps(plan).at(-1);
    assert.deepEqual(last?.kind === "run" ? last.command : last, [
      "docker",
      "image",
      "rm",
      "--",
      "hello:v4",
    ]);
  });

  it("never removes the current version, even one no record calls healthy", () => {
    const plan = planPrune(
      facts({
        records: [record("v1", "web"), record("v2", "web"), record("v3", "web")],
        roles: [{ name: "web", current: "v0" }],
        knownRoles: ["web"],
        keep: 1,
        envFiles: ["web-v0.env", "web-v1.env", "web-v2.env", "web-v3.env"],
        presentImages: ["hello:v0", "hello:v1", "hello:v2", "hello:v3"],
      }),
    );
    assert.deepEqual(plan.kept, [{ role: "web", versions: ["v0", "v3"] }]);
    assert.deepEqual(plan.envFiles.sort(), [
      "/var/lib/slipway/hello/env/web-v1.env",
      "/var/lib/slipway/hello/env/web-v2.env",
    ]);
    assert.deepEqual(plan.images.sort(), ["hello:v1", "hello:v2"]);
  });

  it("after a deploy, prunes one role's env files but keeps images another role still keeps", () => {
    // The web role has just moved to v5; the worker still runs v2 and keeps v1.
    const records = history.slice(0, 4).concat(record("v5", "web"));
    const plan = planPrune(
      facts({
        records,
        roles: [{ name: "web", current: "v5" }],
        knownRoles: ["web"],
        envFiles: ["web-v1.env", "web-v2.env", "worker-v1.env", "worker-v2.env"],
      }),
    );
    assert.deepEqual(plan.envFiles, ["/var/lib/slipway/hello/env/web-v1.env"]);
    // web is done with v1, but the worker keeps it: its image stays.
    assert.deepEqual(plan.images, []);
  });

  it("reads role-v1.env with the longest role that fits, so web never claims web-admin's files", () => {
    assert.deepEqual(parseEnvFileName("web-admin-v1.env", ["web", "web-admin"]), {
      role: "web-admin",
      version: "v1",
    });
    assert.deepEqual(parseEnvFileName("web-abc123-dirty-1a2b3c.env", ["web", "web-admin"]), {
      role: "web",
      version: "abc123-dirty-1a2b3c",
    });
    assert.equal(parseEnvFileName("web-.env", ["web"]), undefined);
    assert.equal(parseEnvFileName("notes.txt", ["web"]), undefined);
    const plan = planPrune(
      facts({
        records: [record("v1", "web"), record("v2", "web"), record("v9", "web-admin")],
        roles: [{ name: "web", current: "v2" }],
        knownRoles: ["web", "web-admin"],
        keep: 1,
        envFiles: ["web-v1.env", "web-v2.env", "web-admin-v9.env"],
        presentImages: [],
      }),
    );
    assert.deepEqual(plan.envFiles, ["/var/lib/slipway/hello/env/web-v1.env"]);
  });

  it("removes images by the name their release recorded, however the engine spells it", () => {
    const plan = planPrune(
      facts({
        records: [
          record("v1", "web", "deployed", "registry.example:5000/hello:v1"),
          record("v2", "web"),
          record("v3", "web"),
        ],
        roles: [{ name: "web", current: "v3" }],
        knownRoles: ["web"],
        envFiles: [],
        // Podman qualifies short names.
        presentImages: [
          "registry.example:5000/hello:v1",
          "localhost/hello:v2",
          "localhost/hello:v3",
        ],
      }),
    );
    assert.deepEqual(plan.images, ["registry.example:5000/hello:v1"]);
  });

  it("lists nothing for an image that is already gone", () => {
    const plan = planPrune(facts({ presentImages: ["hello:v1", "hello:v5"], envFiles: [] }));
    assert.deepEqual(plan.images, []);
    assert.equal(isEmptyPrune(plan), true);
  });

  it("removes stopped containers only: a restarting or paused one is someone's live one", () => {
    const containers = listed(
      { name: "hello-web-v5-aaaaaa", role: "web", version: "v5", state: "running" },
      { name: "hello-web-v1-bbbbbb", role: "web", version: "v1", state: "exited" },
      { name: "hello-run-v5-cccccc", role: "run", version: "v5", state: "created" },
      { name: "hello-worker-v5-dddddd", role: "worker", version: "v5", state: "restarting" },
      { name: "hello-worker-v4-eeeeee", role: "worker", version: "v4", state: "paused" },
      { name: "hello-web-v0-ffffff", role: "web", version: "v0", state: "dead" },
    );
    assert.deepEqual(planPrune(facts({ containers })).containers, [
      "hello-web-v1-bbbbbb",
      "hello-run-v5-cccccc",
      "hello-web-v0-ffffff",
    ]);
  });

  it("carries a plan out in one command per kind, never forcing what is in use", () => {
    const id = `sha256:${"ab".repeat(32)}`;
    const plan = planPrune(
      facts({
        containers: listed({
          name: "hello-web-v1-bbbbbb",
          role: "web",
          version: "v1",
          state: "exited",
        }),
        dangling: [id],
      }),
    );
    assert.deepEqual(
      pruneSteps(plan).map((s) => (s.kind === "run" ? s.command : s.kind)),
      [
        // Names are checked (none starts with a dash): dockerRemove, the one spelling of docker rm.
        ["docker", "rm", "--volumes", "hello-web-v1-bbbbbb"],
        ["rm", "-f", "--", ...plan.envFiles],
        ["docker", "image", "rm", "--", ...plan.images],
        ["docker", "image", "rm", "--", id],
      ],
    );
    assert.deepEqual(pruneSteps(planPrune(facts({ envFiles: [], presentImages: [] }))), []);
  });
});

describe("prune's reads on a host", () => {
  it("finds the other sites' env files in one find and reads their release logs (stand-in host)", async () => {
    const staging = [record("v2", "web"), record("v3", "web")];
    const seen: string[][] = [];
    // A stand-in host: answers the reads readPruneFacts makes, as a Docker host would.
    const host: Transport = {
      host: "web-1",
      async run(command: Command): Promise<RunResult> {
        assert.ok(isArgv(command));
        const argv = [...command];
        seen.push(argv);
        const out = (stdout: string) => ({ code: 0, stdout, stderr: "" });
        if (argv[0] === "find") {
          return out(
            [
              "/var/lib/slipway/hello/env/web-v1.env",
              "/var/lib/slipway/hello-staging/env/web-v2.env",
              "/var/lib/slipway/hello-staging/env/web-v3.env",
              "",
            ].join("\n"),
          );
        }
        if (argv.join(" ") === "cat -- /var/lib/slipway/hello-staging/releases.jsonl") {
          return out(staging.map((r) => JSON.stringify(r)).join("\n"));
        }
        if (argv[0] === "cat") return { code: 1, stdout: "", stderr: "No such file" };
        if (argv[0] === "ls") return out("web-v1.env\n");
        if (argv.includes("--format") && argv.includes("{{.Repository}}:{{.Tag}}")) {
          return out("hello:v1\nhello:v2\nhello:v3\n");
        }
        return out("");
      },
      async upload() {},
      async readFile() {
        return Buffer.alloc(0);
      },
      async close() {},
    };
    const read = await readPruneFacts(host, {
      site: "hello",
      roles: [{ name: "web", current: "v1" }],
      knownRoles: ["web"],
      keep: 1,
      containerLabels: { "slipway.service": "hello" },
      image: "hello:latest",
      dangling: false,
    });
    assert.deepEqual(read.otherSites, [
      { site: "hello-staging", records: staging, envFiles: ["web-v2.env", "web-v3.env"] },
    ]);
    assert.deepEqual(
      seen.find((argv) => argv[0] === "find"),
      [
        "find",
        "/var/lib/slipway",
        "-mindepth",
        "3",
        "-maxdepth",
        "3",
        "-type",
        "f",
        "-path",
        "/var/lib/slipway/*/env/*.env",
      ],
    );
  });
});
