/**
 * node:http and node:https through require, not import: an ES import reads every export, and
 * http's lazy WebSocket, CloseEvent and MessageEvent getters then load undici, about 13 MB of the
 * agent's 64 MB budget (measured by bench/agent.ts). https and tls are loaded on first use only:
 * TLS costs memory an agent of plain HTTP checks never needs.
 */
import { createRequire } from "node:module";

const load = createRequire(import.meta.url);

export const http = load("node:http") as typeof import("node:http");

export function requestFor(url: URL): typeof http.request {
  return url.protocol === "https:"
    ? (load("node:https") as typeof import("node:https")).request
    : http.request;
}

/** node:tls, for certificate checks only. */
export function loadTls(): typeof import("node:tls") {
  return load("node:tls") as typeof import("node:tls");
}
