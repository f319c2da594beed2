/** A real webhook receiver on loopback for the agent's notices, and listening on loopback. */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** A notice as the agent POSTs it (notify.ts), with when it came and its raw body. */
export interface ReceivedNotice {
  event: string;
  check: string;
  message: string;
  severity: string;
  incident?: { id: number };
  at: number;
  raw: string;
}

export interface NoticeReceiver {
  /** The URL to give a webhook notifier. */
  url: string;
  /** Every notice so far, in order. */
  notices: ReceivedNotice[];
  close(): void;
}

/** Listens on 127.0.0.1 at a free port; resolves with the port. */
export function listen(server: Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)),
  );
}

export async function startNoticeReceiver(): Promise<NoticeReceiver> {
  const notices: ReceivedNotice[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      const notice = JSON.parse(body) as Omit<ReceivedNotice, "at" | "raw">;
      notices.push({ ...notice, at: Date.now(), raw: body });
      res.end();
    });
  });
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}/`, notices, close: () => server.close() };
}
