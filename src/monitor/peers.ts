/**
 * Agents of one app's hosts watch each other: each host's agent gets a TCP check of every other
 * host's SSH port ("peer-<host>"), at the address the CLI reached it on, so a host that dies
 * entirely (agent and all) is noticed and reported by the others. Pure, but for peerAddress.
 */
import type { CheckConfig } from "../agent/index.ts";
import type { Transport } from "../transport/index.ts";

/** Where the other hosts find a host: the server side of the CLI's SSH connection. */
export interface PeerAddress {
  host: string;
  address: string;
  port: number;
}

/** The server's address and port from $SSH_CONNECTION ("client port server port"). */
export function parseSshConnection(text: string): { address: string; port: number } | undefined {
  const [, , address, port] = text.trim().split(/\s+/);
  const n = Number(port);
  if (!address || !Number.isInteger(n) || n < 1 || n > 65_535) return undefined;
  return { address, port: n };
}

/** The host's address as sshd saw this connection; undefined when not over SSH. */
export async function peerAddress(transport: Transport): Promise<PeerAddress | undefined> {
  const result = await transport.run(["sh", "-c", 'echo "$SSH_CONNECTION"'], { check: false });
  const parsed = result.code === 0 ? parseSshConnection(result.stdout) : undefined;
  return parsed && { host: transport.host, ...parsed };
}

/** The peer checks of `self`'s agent: one per other host of the app. */
export function planPeerChecks(self: string, peers: readonly PeerAddress[]): CheckConfig[] {
  return peers
    .filter((peer) => peer.host !== self)
    .map((peer) => ({
      name: `peer-${peer.host}`,
      kind: "tcp",
      host: peer.address,
      port: peer.port,
      interval_ms: 30_000,
      timeout_ms: 5_000,
      alerting: {
        open_after: 3,
        resolve_after: 2,
        remind_ms: 3_600_000,
        flap_changes: 6,
        flap_window_ms: 1_800_000,
        severity: "critical",
      },
    }));
}
