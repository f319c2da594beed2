/**
 * The proxy network's bridge MAC, pinned on Podman hosts. A Linux bridge whose MAC was never set
 * takes the lowest MAC of its ports, and netavark before 1.9 (Debian bookworm has 1.4) neither
 * sets one nor gives veths anything but random MACs. So when the container holding the lowest
 * one leaves (the old release stopped) the gateway's MAC changes, and the proxy's ARP entry for
 * it goes stale: its replies to clients off the subnet are lost for tens of seconds. Docker sets
 * a fixed MAC on its bridges. Setting the bridge's current address once makes the kernel keep it
 * (addr_assign_type 3). netavark removes the bridge when its last container leaves and makes a
 * new one later (a reboot), so the pin is checked again before every rollout changes containers.
 */
import { ensure, run, type Step } from "../plan/index.ts";
import { PROXY_NETWORK } from "../proxy/index.ts";
import type { EngineFacts } from "./engine.ts";

/** The kernel's addr_assign_type of an address someone set (NET_ADDR_SET). */
export const ADDR_SET = 3;

// The network's bridge by its name in Podman; no bridge (no network, no container on it, or a
// Podman without NetworkInterface) leaves nothing to pin.
const FIND_BRIDGE = [
  'br=$(podman network inspect --format "{{.NetworkInterface}}" -- "$1" 2>/dev/null) || exit 0',
  '[ -n "$br" ] && [ -e "/sys/class/net/$br" ] || exit 0',
].join("\n");

/** The steps that pin a network's bridge MAC to its current address; none off Podman. */
export function planBridgePin(facts: EngineFacts, network: string = PROXY_NETWORK): Step[] {
  if (facts.engine !== "podman") return [];
  return [
    ensure(
      `bridge MAC of network ${network} fixed`,
      [
        "sh",
        "-c",
        `${FIND_BRIDGE}\n[ "$(cat "/sys/class/net/$br/addr_assign_type")" = ${ADDR_SET} ]`,
        "sh",
        network,
      ],
      [
        run(`fix the bridge MAC of network ${network}`, [
          "sh",
          "-c",
          `${FIND_BRIDGE}\nip link set dev "$br" address "$(cat "/sys/class/net/$br/address")"`,
          "sh",
          network,
        ]),
      ],
    ),
  ];
}
