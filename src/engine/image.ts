/** Argv for image and network commands on a host. Nothing runs in this module. */
import type { Argv } from "../transport/index.ts";
import { checkImageRef, checkName } from "./validate.ts";

/**
 * `docker image inspect --format {{.Id}} REF`: exit 0 and the image ID when the image is
 * present, exit 1 when not. Parse with parseImageId (Podman prints the ID without "sha256:").
 */
export function dockerImageId(ref: string): Argv {
  return ["docker", "image", "inspect", "--format", "{{.Id}}", checkImageRef(ref)];
}

/** `docker image inspect REF`: a JSON array; parse with parseImageInspect. */
export function dockerImageInspect(ref: string): Argv {
  return ["docker", "image", "inspect", checkImageRef(ref)];
}

/**
 * `docker load`: reads an image archive (docker-archive or OCI, plain or gzip) on stdin and
 * prints "Loaded image: REF" per tag; parse with parseLoadOutput. The host unzips the stream
 * first (`gzip -cdf` passes a plain archive through unchanged): Podman 4.3's load refuses a
 * gzipped docker-archive, which Docker takes. gzip is on every Debian and Ubuntu (Essential).
 */
export function dockerLoad(): Argv {
  return ["sh", "-c", "gzip -cdf | docker load"];
}

/** `docker image rm REF`: fails while a container uses the image, which is what pruning wants. */
export function dockerRemoveImage(ref: string): Argv {
  return ["docker", "image", "rm", checkImageRef(ref)];
}

/** `docker tag SRC DST`: another name for the same image. */
export function dockerTag(source: string, target: string): Argv {
  return ["docker", "tag", checkImageRef(source), checkImageRef(target)];
}

/** `docker network create NAME`: a user-defined bridge, where containers reach each other by name. */
export function dockerNetworkCreate(name: string): Argv {
  return ["docker", "network", "create", checkName("network", name)];
}

/** `docker network inspect NAME`: exit 0 (and a JSON array) when the network exists, else 1. */
export function dockerNetworkInspect(name: string): Argv {
  return ["docker", "network", "inspect", checkName("network", name)];
}
