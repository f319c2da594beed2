/**
 * Images rig/install.sh builds offline for tests and the demo, besides the VPS box; keep the tags
 * in step with NODE_IMAGE and NGINX_IMAGE there.
 */
import type { RigCheck } from "./proc.ts";
import { rigAvailable, VPS_IMAGE } from "./vps.ts";

/** Node 24 on Debian 12 with a `node` user (uid 1000): the example app's BASE build argument. */
export const NODE_IMAGE = "localhost/slipway-node:24";
/** Debian 12's nginx, logging to stdout and stderr, stopped with SIGQUIT. */
export const NGINX_IMAGE = "localhost/slipway-nginx:1";

/** Whether the VPS box and all these images can be used: the first missing one's reason if not. */
export function imagesAvailable(...images: string[]): RigCheck {
  for (const image of [VPS_IMAGE, ...images]) {
    const check = rigAvailable(image);
    if (!check.ok) return check;
  }
  return { ok: true };
}
