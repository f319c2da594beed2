/** The agent's store: silences of one check, of one app ("hello/"), of all, windows to come; ending one. */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Store } from "../../../src/agent/index.ts";

describe("silences in the agent's store", () => {
  it("an app's prefix covers its checks and no other app's; ending one lifts it", () => {
    const store = new Store(":memory:");
    const app = store.addSilence("hello/", 1_000, 9_000, "deploy");
    store.addSilence("notes/web", 1_000, 5_000, "maintenance");
    assert.equal(store.silencedUntil("hello/web", 2_000), 9_000);
    assert.equal(store.silencedUntil("hello/host-cpu", 2_000), 9_000);
    assert.equal(store.silencedUntil("hello-staging/web", 2_000), undefined, "another app");
    assert.equal(store.silencedUntil("notes/web", 2_000), 5_000);
    assert.equal(store.silencedUntil("notes/db", 2_000), undefined);
    assert.equal(store.silencedUntil("hello/web", 500), undefined, "before it starts");
    const window = store.addSilence("later/web", 5_000, 6_000, "window");
    assert.equal(store.silencedUntil("later/web", 4_999), undefined, "a window to come");
    assert.equal(store.silencedUntil("later/web", 5_000), 6_000);
    assert.deepEqual(
      store.activeSilences(2_000).map((s) => [s.check, s.startsAt, s.endsAt]),
      [
        ["hello/", 1_000, 9_000],
        ["notes/web", 1_000, 5_000],
        ["later/web", 5_000, 6_000],
      ],
    );
    assert.equal(store.endSilence(window, 2_000), true, "called off before it starts");
    assert.equal(store.silencedUntil("later/web", 5_500), undefined);
    assert.equal(store.endSilence(app, 3_000), true);
    assert.equal(store.endSilence(app, 3_000), false, "already ended");
    assert.equal(store.silencedUntil("hello/web", 3_500), undefined);
    store.addSilence(undefined, 1_000, 4_000, "everything");
    assert.equal(store.silencedUntil("hello/web", 3_500), 4_000);
    store.close();
  });

  it("a silence outlives a restart: a reopened store still applies it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "slipway-store-"));
    try {
      const before = new Store(join(dir, "agent.db"));
      before.addSilence("hello/", 1_000, 9_000, "deploy");
      before.close();
      const after = new Store(join(dir, "agent.db"));
      assert.equal(after.silencedUntil("hello/web", 2_000), 9_000);
      assert.equal(after.silencedUntil("hello/web", 9_000), undefined, "over at its end");
      after.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a silence added later than the last one still applies", () => {
    const store = new Store(":memory:");
    store.addSilence("hello/web", 1_000, 2_000, "first");
    assert.equal(store.silencedUntil("hello/web", 3_000), undefined, "the first is over");
    store.addSilence("hello/web", 4_000, 8_000, "second");
    assert.equal(store.silencedUntil("hello/web", 5_000), 8_000);
    store.close();
  });
});
