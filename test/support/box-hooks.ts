/**
 * A webhook receiver inside a VPS box, on the proxy's network, where an agent sends its notices
 * to http://hooks:8080/: each request's event, signature, timestamp and body, one JSON line per
 * request in /tmp/hooks.log of its container. Shared by the e2e tests of alerts.
 */
import assert from "node:assert/strict";
import { NODE_IMAGE, type VpsBox } from "../rig/index.ts";

export interface BoxHook {
  event: string;
  signature: string;
  timestamp: string;
  /** The notice's JSON, as sent. */
  body: string;
}

/** The receiver's source, run by `node -e` in the container. */
const RECEIVER = [
  "const http = require('node:http'), fs = require('node:fs');",
  "http.createServer((req, res) => { let body = '';",
  "  req.on('data', (c) => (body += c));",
  "  req.on('end', () => {",
  "    fs.appendFileSync('/tmp/hooks.log', JSON.stringify({ event: req.headers['x-slipway-event'], signature: req.headers['x-slipway-signature'], timestamp: req.headers['x-slipway-timestamp'], body }) + '\\n');",
  "    res.end('ok'); });",
  "}).listen(8080);",
  "process.on('SIGTERM', () => process.exit(0));",
].join(" ");

/** Starts the receiver, container `hooks` on network `slipway` (the node image is on the box). */
export async function startBoxHooks(box: VpsBox): Promise<void> {
  await box.exec([
    "docker",
    "run",
    "--detach",
    "--name",
    "hooks",
    "--network",
    "slipway",
    NODE_IMAGE,
    "node",
    "-e",
    RECEIVER,
  ]);
}

/** Every request the receiver got so far, in order. */
export async function boxHooks(box: VpsBox): Promise<BoxHook[]> {
  const out = await box.exec([
    "sh",
    "-c",
    "docker exec hooks cat /tmp/hooks.log 2>/dev/null; true",
  ]);
  return out
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as BoxHook);
}

/** The first request that `matches`, waited for up to `ms`. */
export async function boxHookWithin(
  box: VpsBox,
  matches: (hook: BoxHook) => boolean,
  ms: number,
  what = "notice",
): Promise<BoxHook> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = (await boxHooks(box)).find(matches);
    if (found) return found;
    assert.ok(
      Date.now() < deadline,
      `no ${what} within ${ms}ms: ${JSON.stringify(await boxHooks(box))}`,
    );
    await new Promise((r) => setTimeout(r, 500));
  }
}
