/**
 * Where an image lives on a registry, as pure string rules. Docker's reading of a reference:
 * the part before the first "/" is a registry host when it has a "." or a ":" or is
 * "localhost"; otherwise the image is on Docker Hub ("hello" is docker.io/library/hello,
 * "acme/hello" is docker.io/acme/hello).
 */
import { UserError } from "../errors/index.ts";

/** Docker Hub, as a registry host: `docker login docker.io` and `podman login docker.io` both work. */
export const DOCKER_HUB = "docker.io";

// Other spellings of Docker Hub that users and old configs write.
const HUB_ALIASES = new Set(["docker.io", "index.docker.io", "registry-1.docker.io"]);

// A Docker Hub namespace (user or organisation) as it appears in a repository path.
const HUB_NAMESPACE = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;

/** The `registry:` section, as far as naming goes (the password plays no part). */
export interface RegistrySettings {
  server?: string | undefined;
  username: string;
}

/** The registry host a reference names ("ghcr.io" in "ghcr.io/acme/hello:1"), or undefined. */
export function referenceDomain(ref: string): string | undefined {
  const slash = ref.indexOf("/");
  if (slash < 0) return undefined;
  const first = ref.slice(0, slash);
  return first.includes(".") || first.includes(":") || first === "localhost" ? first : undefined;
}

/** One spelling per registry host: lower case, Docker Hub's aliases as docker.io. */
export function normalizeServer(server: string): string {
  const lower = server.toLowerCase();
  return HUB_ALIASES.has(lower) ? DOCKER_HUB : lower;
}

/** The registry a reference's image comes from: its own host, else Docker Hub. */
export function registryOf(ref: string): string {
  return normalizeServer(referenceDomain(ref) ?? DOCKER_HUB);
}

/**
 * The server `docker login` talks to for the app's image: `registry.server`; without it, the
 * host the image names ("ghcr.io/acme/hello" → ghcr.io), else Docker Hub.
 */
export function loginServer(image: string, registry: RegistrySettings): string {
  return normalizeServer(registry.server ?? referenceDomain(image) ?? DOCKER_HUB);
}

/**
 * The repository (reference without tag) the app's image is pushed to and pulled from:
 * - with `server`: `<server>/<image>`, or `image` itself when it already starts with the server;
 * - without: `image` when it names a registry host; else Docker Hub, where an image without a
 *   namespace goes under the user's own (`hello` → `docker.io/<username>/hello`, since nobody
 *   can push to Docker Hub's official `library/` images) and `acme/hello` stays as it is.
 * Docker Hub references are written in full (docker.io/...): Podman would otherwise read a
 * short name as a local image (localhost/...).
 */
export function registryRepository(image: string, registry: RegistrySettings): string {
  const domain = referenceDomain(image);
  if (registry.server !== undefined) {
    const server = normalizeServer(registry.server);
    if (domain === undefined) {
      return server === DOCKER_HUB ? hubRepository(image, registry.username) : `${server}/${image}`;
    }
    if (normalizeServer(domain) === server) return image;
    throw new UserError({
      code: "config.registry_mismatch",
      message: `image "${image}" names the registry ${domain}, but registry.server is ${registry.server}.`,
      hint: `Write the image without its registry (image: ${image.slice(domain.length + 1)}), or make registry.server ${domain}.`,
    });
  }
  if (domain !== undefined) return image;
  return hubRepository(image, registry.username);
}

function hubRepository(image: string, username: string): string {
  if (image.includes("/")) return `${DOCKER_HUB}/${image}`;
  const namespace = username.toLowerCase();
  if (!HUB_NAMESPACE.test(namespace)) {
    throw new UserError({
      code: "config.registry_namespace",
      message: `registry.username "${username}" cannot be a Docker Hub namespace, so the image "${image}" has no place to go.`,
      hint: `Write the namespace in the image, e.g. image: acme/${image}.`,
    });
  }
  return `${DOCKER_HUB}/${namespace}/${image}`;
}
