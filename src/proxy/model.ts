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
  /** Served over HTTPS too (needs domains); absent: HTTP only. */
  https?: SiteHttps;
  /** A Content-Security-Policy for the app's answers that carry none of their own. */
  csp?: string;
  /**
   * Proxies in front of this one (a CDN, a load balancer) whose word on the client's address is
   * taken, from `header`; absent: the connecting address is the client's.
   */
  realIp?: { from: readonly string[]; header: string };
}

/**
 * A site's HTTPS, as its site file says it. The certificate itself, and whether HTTP redirects,
 * are in two includes beside the certificate (src/certs: `<site>.tls.conf`, `<site>.http.conf`)
 * that whoever places a certificate rewrites, so a first certificate or a renewal needs no new
 * site file: until there is one, HTTPS handshakes are refused and HTTP serves the app.
 */
export interface SiteHttps {
  /** Answer ACME HTTP-01 challenges on port 80 from the webroot. */
  acme: boolean;
  /**
   * A challenge token this host does not have is asked of this address's proxy (the host that
   * issues for the site), so a CA may validate through any of the site's hosts.
   */
  acmeFallback?: string;
  /** Strict-Transport-Security; absent: not sent. */
  hsts?: { maxAgeS: number; includeSubdomains: boolean; preload: boolean };
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
  /** Port HTTPS server blocks listen on. Default 443. */
  tlsListenPort?: number;
  /** Where nginx reads certificates and their includes (src/certs). Default PROXY_CERTS_DIR. */
  certsDir?: string;
  /** The same directory on the host, where the includes are written. Default CERTS_DIR. */
  hostCertsDir?: string;
  /** Where nginx reads ACME challenge files. Default PROXY_WEBROOT. */
  webroot?: string;
  /** IPv4 address every server block listens on. Default: all addresses. */
  listenAddress?: string;
  /**
   * Directory for nginx's temporary files (large request bodies, buffered responses). nginx
   * creates a directory in it per kind and hands it to its worker user, who must be able to
   * reach it. Default: the image's own paths.
   */
  tempDir?: string;
}
