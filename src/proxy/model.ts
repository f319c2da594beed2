/** The proxy's fixed names and the shapes its renderers and planners take. */

/** The one nginx container on each host. */
export const PROXY_CONTAINER = "slipway-proxy";
/** The Docker network the proxy and every app container are on (names resolve by Docker DNS). */
export const PROXY_NETWORK = "slipway";
/** On the host: nginx.conf, sites/ and upstreams/, mounted read-only at /etc/nginx. */
export const PROXY_DIR = "/var/lib/slipway/proxy";
/** The proxy image when slipway.yml names none. */
export const DEFAULT_PROXY_IMAGE = "nginx:1.27-bookworm";

/** One web role of one site (service, plus `-<environment>` when one is set) behind the proxy. */
export interface ProxySite {
  /** `hello`, or `hello-staging`. */
  site: string;
  role: string;
  /** Host names served; empty: this site is the catch-all (default_server). */
  domains: string[];
  appPort: number;
  /** Exempt from rate limiting, so monitors and the deploy's checks never get 429. */
  healthPath: string;
  /** Largest request body, in bytes. */
  maxBodySize: number;
  /** Per client IP; absent: no limit. */
  rateLimit?: { requestsPerSecond: number; burst: number };
}

/** The container an upstream sends traffic to, reached by name on the proxy network. */
export interface UpstreamTarget {
  container: string;
  port: number;
}

/**
 * Where the configuration lives and what it listens on. The defaults are the proxy container's;
 * tests point them at a temporary directory and a loopback port.
 */
export interface ProxyOptions {
  /** Directory nginx reads its configuration from; includes are absolute paths under it. Default /etc/nginx. */
  confDir?: string;
  /** Directory on the host holding nginx.conf, sites/ and upstreams/. Default PROXY_DIR. */
  hostDir?: string;
  /** Port every server block listens on. Default 80. */
  listenPort?: number;
  /** IPv4 address every server block listens on. Default: all addresses. */
  listenAddress?: string;
  /**
   * Directory for nginx's temporary files (large request bodies, buffered responses). nginx
   * creates a directory in it per kind and hands it to its worker user, who must be able to
   * reach it. Default: the image's own paths.
   */
  tempDir?: string;
}
