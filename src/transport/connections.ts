/**
 * One transport per host, opened on first use and reused by every command to that host.
 * The host name `local` means this machine, without SSH.
 */
import { LocalTransport } from "./local.ts";
import { type SshEvents, type SshOptions, SshTransport } from "./ssh.ts";
import type { Transport } from "./types.ts";

/** The reserved host name for this machine. */
export const LOCAL_HOST = "local";

/** SSH settings shared by every host (from slipway.yml's `ssh` section). */
export type SshSettings = Omit<SshOptions, "host" | "events">;

export class Connections {
  readonly #settings: SshSettings;
  readonly #events: SshEvents;
  readonly #open = new Map<string, Transport>();

  constructor(settings: SshSettings, events: SshEvents = {}) {
    this.#settings = settings;
    this.#events = events;
  }

  /** The transport for a host, created on first use. */
  get(host: string): Transport {
    let transport = this.#open.get(host);
    if (!transport) {
      transport =
        host === LOCAL_HOST
          ? new LocalTransport({ events: this.#events })
          : new SshTransport({ ...this.#settings, host, events: this.#events });
      this.#open.set(host, transport);
    }
    return transport;
  }

  /** Closes every connection; safe to call more than once. */
  async closeAll(): Promise<void> {
    const all = [...this.#open.values()];
    this.#open.clear();
    await Promise.allSettled(all.map((transport) => transport.close()));
  }
}
