/** An ~/.ssh/config with one alias per VPS box (its port and key), as people name their hosts. */
import type { VpsBox } from "../rig/index.ts";

export function sshAliases(boxes: Readonly<Record<string, VpsBox>>): string {
  return Object.entries(boxes)
    .map(([alias, box]) =>
      [
        `Host ${alias}`,
        "  HostName 127.0.0.1",
        `  Port ${box.port}`,
        "  User root",
        `  IdentityFile ${box.clientKey}`,
        "",
      ].join("\n"),
    )
    .join("\n");
}
