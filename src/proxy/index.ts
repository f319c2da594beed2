/**
 * Everything Slipway knows about the nginx proxy in front of the web roles, as pure functions:
 * configuration text and the steps that put it on a host and switch upstreams.
 */
export {
  DEFAULT_PROXY_IMAGE,
  PROXY_CONTAINER,
  PROXY_DIR,
  PROXY_NETWORK,
  type ProxyOptions,
  type ProxySite,
  type SiteHttps,
  type UpstreamTarget,
} from "./model.ts";
export {
  CHECKED_RELOAD_SCRIPT,
  PROXY_SPEC_LABEL,
  planProxyBoot,
  planProxyFiles,
  planProxyReload,
  planProxySwitch,
  planStatusSite,
  RELOAD_SCRIPT,
  SWITCH_SCRIPT,
  SWITCHED_MARK,
  statusSiteName,
} from "./plan.ts";
export {
  DEFAULT_TLS_SITE,
  DH_PARAMS_FILE,
  FFDHE2048,
  MOZILLA_INTERMEDIATE,
  renderDefaultTlsSite,
  renderNginxConf,
  renderSite,
  renderStatusSite,
  renderUpstream,
  type StatusSite,
  upstreamName,
} from "./render.ts";
export { CLOUDFLARE, FORWARDED_FOR_HEADER } from "./trusted.ts";
