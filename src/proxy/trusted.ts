/**
 * Proxies in front of Slipway's whose word on the client's address may be taken. Cloudflare
 * publishes its ranges at https://www.cloudflare.com/ips-v4 and /ips-v6 (these as of 2026); it
 * sends the visitor's address in CF-Connecting-IP.
 */
export const CLOUDFLARE = {
  header: "CF-Connecting-IP",
  from: [
    "173.245.48.0/20",
    "103.21.244.0/22",
    "103.22.200.0/22",
    "103.31.4.0/22",
    "141.101.64.0/18",
    "108.162.192.0/18",
    "190.93.240.0/20",
    "188.114.96.0/20",
    "197.234.240.0/22",
    "198.41.128.0/17",
    "162.158.0.0/15",
    "104.16.0.0/13",
    "104.24.0.0/14",
    "172.64.0.0/13",
    "131.0.72.0/22",
    "2400:cb00::/32",
    "2606:4700::/32",
    "2803:f800::/32",
    "2405:b500::/32",
    "2405:8100::/32",
    "2a06:98c0::/29",
    "2c0f:f248::/32",
  ],
} as const;

/** Networks listed by hand: load balancers say the client's address in X-Forwarded-For. */
export const FORWARDED_FOR_HEADER = "X-Forwarded-For";
