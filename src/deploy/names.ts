/**
 * How an app's things are named on a host. Everything carries the site (service, plus the
 * environment when one is selected) so staging can share a host with production.
 */
import { randomBytes } from "node:crypto";
import { type RegistrySettings, registryRepository } from "../registry/index.ts";

/** `hello`, or `hello-staging` with `-d staging`. */
export function siteName(service: string, environment: string | undefined): string {
  return environment ? `${service}-${environment}` : service;
}

/** A new container's name: site, role, version and a nonce, so redeploying a version never clashes. */
export function containerName(site: string, role: string, version: string): string {
  return `${site}-${role}-${version}-${randomBytes(3).toString("hex")}`;
}

/** The labels every container of a release carries: the truth `status` and rollback read back. */
export function releaseLabels(input: {
  service: string;
  environment: string | undefined;
  role: string;
  version: string;
}): Record<string, string> {
  return {
    "slipway.service": input.service,
    "slipway.environment": input.environment ?? "",
    "slipway.role": input.role,
    "slipway.version": input.version,
    "slipway.released": new Date().toISOString(),
  };
}

/** The labels that select every container of one role of one app. */
export function roleSelector(input: {
  service: string;
  environment: string | undefined;
  role: string;
}): Record<string, string> {
  return {
    "slipway.service": input.service,
    "slipway.environment": input.environment ?? "",
    "slipway.role": input.role,
  };
}

/**
 * The image reference of one version, the one every host runs and every release records:
 * `<image>:<version>`, or with a `registry:` its name there (`<server>/<image>:<version>`; see
 * registryRepository). Every caller goes through here, so deploy, rollback, the release
 * command and pruning agree on one name.
 */
export function imageRef(
  config: { image: string; registry?: RegistrySettings | undefined },
  version: string,
): string {
  const repository = config.registry
    ? registryRepository(config.image, config.registry)
    : config.image;
  return `${repository}:${version}`;
}

/** The reference of another version of the same repository ("reg/hello:v2" → "reg/hello:v1"). */
export function withVersion(ref: string, version: string): string {
  return `${ref.slice(0, ref.lastIndexOf(":"))}:${version}`;
}

/**
 * A role's volumes as mounts: a named volume "data" becomes "<site>-data", so staging and
 * production on one host never share it; a host path is used as written.
 */
export function roleVolumes(
  site: string,
  volumes: readonly string[],
): { source: string; target: string }[] {
  return volumes.map((volume) => {
    const at = volume.indexOf(":");
    const source = volume.slice(0, at);
    return {
      source: source.startsWith("/") ? source : `${site}-${source}`,
      target: volume.slice(at + 1),
    };
  });
}
