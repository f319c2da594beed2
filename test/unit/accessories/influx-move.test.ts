/**
 * The InfluxDB rotation's steps in order, against a stand-in for the container (no InfluxDB 2 can
 * run here: no registry has one): the argv each step runs, what it makes of influx's realistic
 * output, and the warning when the old token cannot be found, which never shows a token.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { influxMove } from "../../../src/secrets/rotate.ts";

const setup = {
  user: "notes",
  password: "s3tup-Token_0123456789abcdefghij",
  database: "notes",
  rootPassword: "admin-Pass_0123456789",
};
const print = (value: unknown) => `${JSON.stringify(value, null, "\t")}\n`;
const entry = (id: string, description: string, token: string) => ({
  id,
  description,
  token,
  status: "active",
  userName: "notes",
  userID: "0c8a4f6e1b2d3000",
  permissions: ["read:/authorizations", "write:/authorizations"],
});

/** A stand-in container: answers `influx auth create|list|delete` and records every argv. */
function standIn(list: unknown[]) {
  const ran: string[][] = [];
  const run = async (argv: readonly string[]) => {
    ran.push([...argv]);
    const words = argv.slice(4).join(" ");
    if (words.startsWith("auth create"))
      return print(entry("0c8a4f6e1b2d4000", argv.at(-2) ?? "", "n3w-Token=="));
    if (words.startsWith("auth list")) return print(list);
    return "";
  };
  return { ran, run };
}

describe("InfluxDB rotation steps (stand-in container: no InfluxDB 2 can run here)", () => {
  it("moves to the token InfluxDB made, then deletes the setup token found by its description", async () => {
    const container = standIn([
      entry("0c8a4f6e1b2d3002", "notes's Token", ""),
      entry("0c8a4f6e1b2d4000", "slipway metrics …", ""),
    ]);
    const move = influxMove(container.run, { name: "metrics" }, setup);
    const next = await move.prepare();
    assert.deepEqual(next, { ...setup, password: "n3w-Token==", tokenId: "0c8a4f6e1b2d4000" });
    assert.deepEqual(container.ran[0]?.slice(4, 7), ["auth", "create", "--operator"]);
    assert.match(container.ran[0]?.at(-2) ?? "", /^slipway metrics \d{4}-\d\d-\d\dT/);
    assert.equal(await move.retire(), undefined);
    assert.deepEqual(
      container.ran.slice(1).map((argv) => argv.slice(4)),
      [
        ["auth", "list", "--json"],
        ["auth", "delete", "--id", "0c8a4f6e1b2d3002"],
      ],
    );
    for (const argv of container.ran) {
      assert.ok(!argv.join(" ").includes(setup.password), "a token in argv");
      assert.ok(!argv.join(" ").includes(next.password), "a token in argv");
    }
  });

  it("the next rotation deletes the token Slipway made by the id it kept", async () => {
    const rotated = { ...setup, password: "n3w-Token==", tokenId: "0c8a4f6e1b2d4000" };
    const container = standIn([
      entry("0c8a4f6e1b2d3002", "notes's Token", ""),
      entry("0c8a4f6e1b2d4000", "slipway metrics …", ""),
    ]);
    const move = influxMove(container.run, { name: "metrics" }, rotated);
    await move.prepare();
    await move.retire();
    assert.deepEqual(container.ran.at(-1)?.slice(4), [
      "auth",
      "delete",
      "--id",
      "0c8a4f6e1b2d4000",
    ]);
  });

  it("not found: nothing deleted, and a warning names the token by description or id, never its value", async () => {
    const container = standIn([entry("0c8a4f6e1b2d3009", "telegraf", "")]);
    const move = influxMove(container.run, { name: "metrics" }, setup);
    await move.prepare();
    const warning = await move.retire();
    assert.equal(
      warning,
      `metrics: the previous token was not found in influx auth list, so none was deleted: if it still opens, delete the token described "notes's Token" by hand, in InfluxDB's UI or with slipway accessory exec metrics -- sh -c 'INFLUX_TOKEN="$(cat /run/slipway-secrets/token)" exec influx auth delete --id ID'`,
    );
    assert.ok(!container.ran.some((argv) => argv.includes("delete")), "deleted something");
    const kept = { ...setup, password: "n3w-Token==", tokenId: "0c8a4f6e1b2d4000" };
    const byId = await influxMove(container.run, { name: "metrics" }, kept).retire();
    assert.match(
      byId ?? "",
      /delete the token with id 0c8a4f6e1b2d4000 by hand.*--id 0c8a4f6e1b2d4000'$/,
    );
    assert.ok(!(byId ?? "").includes(kept.password));
  });

  it("after a failed restart, undo deletes the new token by its id", async () => {
    const container = standIn([]);
    const move = influxMove(container.run, { name: "metrics" }, setup);
    const next = await move.prepare();
    await move.undo?.(next);
    assert.deepEqual(container.ran.at(-1)?.slice(4), [
      "auth",
      "delete",
      "--id",
      "0c8a4f6e1b2d4000",
    ]);
  });
});
