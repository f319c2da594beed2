/**
 * The agent's notifiers against real servers: e-mail through a real SMTP server (smtp-server)
 * with a login, and Slack, Discord and Telegram through a local HTTP server standing in for their
 * cloud APIs (a stand-in: the real ones cannot be reached from here), which checks the body each
 * one documents and the Telegram token's place in the path.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { SMTPServer } from "smtp-server";
import { type Notice, notifierSchema, send } from "../../src/agent/index.ts";

const notice: Notice = {
  event: "open",
  service: "hello",
  host: "vps1",
  check: "hello/web",
  severity: "critical",
  message: "hello/web is down: HTTP 503",
  incident: { id: 7, opened_at: "2026-11-30T10:00:00.000Z" },
  at: "2026-11-30T10:00:00.000Z",
};
const quick = { attempts: 3, backoffMs: 20, env: {} };

async function body(req: IncomingMessage): Promise<string> {
  let text = "";
  for await (const chunk of req as AsyncIterable<Buffer>) text += chunk;
  return text;
}

describe("e-mail through a real SMTP server", () => {
  let dir: string;
  let smtp: SMTPServer;
  let port = 0;
  const mails: { from: string; to: string[]; data: string; user: string }[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "slipway-smtp-"));
    await writeFile(join(dir, "password"), "mail-pass-0123\n");
    smtp = new SMTPServer({
      disabledCommands: ["STARTTLS"],
      allowInsecureAuth: true,
      onAuth(auth, _session, done) {
        if (auth.username === "alerts" && auth.password === "mail-pass-0123")
          done(null, { user: auth.username });
        else done(Object.assign(new Error("Invalid username or password"), { responseCode: 535 }));
      },
      onData(stream, session, done) {
        let data = "";
        stream.on("data", (c: Buffer) => {
          data += c;
        });
        stream.on("end", () => {
          mails.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
            to: session.envelope.rcptTo.map((r) => r.address),
            data,
            user: String(session.user),
          });
          done();
        });
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, "127.0.0.1", resolve));
    port = (smtp.server.address() as AddressInfo).port;
  });

  after(async () => {
    await new Promise<void>((resolve) => smtp?.close(() => resolve()));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const email = (password = "password") =>
    notifierSchema.parse({
      name: "ops",
      kind: "email",
      to: ["ops@example.com", "dev@example.com"],
      from: "slipway@example.com",
      smtp_url: `smtp://alerts@127.0.0.1:${port}`,
      password_file: join(dir, password),
    });

  it("sends the alert and the resolve notice, logged in, to every address", async () => {
    const sent = await send(email(), notice, quick);
    assert.deepEqual(sent, { ok: true, attempts: 1, error: undefined });
    const resolved = await send(
      email(),
      { ...notice, event: "resolve", message: "hello/web is up again after 95s" },
      quick,
    );
    assert.equal(resolved.ok, true, resolved.error);
    assert.equal(mails.length, 2);
    const [open, resolve] = mails;
    assert.equal(open?.user, "alerts");
    assert.equal(open?.from, "slipway@example.com");
    assert.deepEqual(open?.to, ["ops@example.com", "dev@example.com"]);
    assert.match(open?.data ?? "", /^Subject: \[Slipway\] hello\/web is down: HTTP 503\r$/m);
    assert.match(open?.data ?? "", /^Incident: #7, opened 2026-11-30T10:00:00\.000Z\r$/m);
    assert.match(resolve?.data ?? "", /^Subject: \[Slipway\] hello\/web is up again after 95s\r$/m);
  });

  it("a refused login fails at once (no retry of a permanent error), without the password", async () => {
    await writeFile(join(dir, "wrong"), "not-the-password\n");
    const sent = await send(email("wrong"), notice, quick);
    assert.deepEqual(sent, { ok: false, attempts: 1, error: "SMTP 535" });
  });
});

describe("Slack, Discord and Telegram, against a local stand-in for their APIs (mock: cloud APIs)", () => {
  let dir: string;
  let server: Server;
  let base = "";
  let answer = 200;
  const seen: { path: string; body: Record<string, unknown> }[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "slipway-chat-"));
    server = createServer(async (req, res) => {
      seen.push({
        path: req.url ?? "",
        body: JSON.parse(await body(req)) as Record<string, unknown>,
      });
      res.writeHead(answer).end("ok");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await writeFile(join(dir, "slack"), `${base}/services/T000/B000/XXXX\n`);
    await writeFile(join(dir, "discord"), `${base}/api/webhooks/1/abc\n`);
    await writeFile(join(dir, "telegram"), "123456:telegram-token\n");
  });

  after(async () => {
    server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("Slack gets text, Discord content, Telegram chat_id and text at /bot<token>/sendMessage", async () => {
    const chat = (fields: Record<string, unknown>) =>
      notifierSchema.parse({ name: "n", ...fields });
    const results = [
      await send(chat({ kind: "slack", url_file: join(dir, "slack") }), notice, quick),
      await send(chat({ kind: "discord", url_file: join(dir, "discord") }), notice, quick),
      await send(
        chat({
          kind: "telegram",
          chat_id: "-100200",
          token_file: join(dir, "telegram"),
          api_url: base,
        }),
        notice,
        quick,
      ),
    ];
    assert.ok(
      results.every((r) => r.ok),
      JSON.stringify(results),
    );
    const line = "🔴 hello/web is down: HTTP 503 (hello on vps1, critical)";
    assert.deepEqual(seen, [
      { path: "/services/T000/B000/XXXX", body: { text: line } },
      { path: "/api/webhooks/1/abc", body: { content: line } },
      { path: "/bot123456:telegram-token/sendMessage", body: { chat_id: "-100200", text: line } },
    ]);
  });

  it("a refusal is not retried and the error does not show the token; a 5xx is retried", async () => {
    const telegram = notifierSchema.parse({
      name: "t",
      kind: "telegram",
      chat_id: "1",
      token_file: join(dir, "telegram"),
      api_url: base,
    });
    answer = 401;
    assert.deepEqual(await send(telegram, notice, quick), {
      ok: false,
      attempts: 1,
      error: "HTTP 401",
    });
    answer = 502;
    const before = seen.length;
    assert.deepEqual(await send(telegram, notice, quick), {
      ok: false,
      attempts: 3,
      error: "HTTP 502",
    });
    assert.equal(seen.length - before, 3);
    answer = 200;
  });

  it("a missing secret file is a failure naming the file, not a crash", async () => {
    const slack = notifierSchema.parse({ name: "s", kind: "slack", url_file: join(dir, "nope") });
    assert.deepEqual(await send(slack, notice, quick), {
      ok: false,
      attempts: 0,
      error: `${join(dir, "nope")}: ENOENT`,
    });
  });
});
