/**
 * The image of a kept release on a host, for rollback and restart: got the way a deploy gets
 * it (pulled from the registry when one is configured, else shipped from this machine's engine),
 * so a host that lost it (after `prune`, or a new host) can still go back.
 */
import {
  inspectRemote,
  type LocalEngine,
  localImageInspectArgv,
  shipImage,
} from "../build/index.ts";
import { BugError, UserError } from "../errors/index.ts";
import { pullImage, type RegistryLogin } from "../registry/index.ts";
import { LocalTransport, type Transport } from "../transport/index.ts";

/** Where a host gets a kept image from. */
export type KeptImageSource = "present" | "pull" | "ship";

/** What is known about a kept image when deciding where it comes from. */
export interface KeptImageFacts {
  host: string;
  image: string;
  version: string;
  onHost: boolean;
  registry: boolean;
  /** This machine's engine has it (asked only without a registry). */
  local: boolean;
}

/** Pure: where the image comes from, or a UserError naming the version and what to do. */
export function keptImageSource(facts: KeptImageFacts): KeptImageSource {
  if (facts.onHost) return "present";
  if (facts.registry) return "pull";
  if (facts.local) return "ship";
  throw new UserError({
    code: "rollback.no_image",
    message: `${facts.host} no longer has the image ${facts.image} of ${facts.version}, and this machine has none to ship (no registry is configured).`,
    hint: `Build or tag ${facts.image} on this machine and run this again, or deploy it again: slipway deploy --version ${facts.version}`,
  });
}

/** Options of {@link ensureKeptImage}. */
export interface KeptImageOptions {
  transport: Transport;
  image: string;
  version: string;
  registry: RegistryLogin | undefined;
  /** This machine's engine, asked for only when the host lacks the image and there is no registry. */
  engine: () => Promise<LocalEngine | undefined>;
  /** Runs on this machine (the engine's image inspect); default a LocalTransport. */
  local?: Transport;
}

/** Makes the kept image present on the host; says where it came from. */
export async function ensureKeptImage(
  options: KeptImageOptions,
): Promise<"present" | "pulled" | "shipped"> {
  const { transport, image, version, registry } = options;
  const onHost = (await inspectRemote(transport, image)) !== undefined;
  let engine: LocalEngine | undefined;
  let local = false;
  if (!onHost && registry === undefined) {
    engine = await options.engine();
    local =
      engine !== undefined &&
      (
        await (options.local ?? new LocalTransport()).run(localImageInspectArgv(engine, image), {
          check: false,
        })
      ).code === 0;
  }
  const source = keptImageSource({
    host: transport.host,
    image,
    version,
    onHost,
    registry: registry !== undefined,
    local,
  });
  if (source === "present") return "present";
  // No local engine given to the pull: the registry's image of that name is the kept one.
  if (source === "pull") return pullImage({ image, remote: transport, login: registry });
  if (engine === undefined) throw new BugError("a kept image to ship without a local engine");
  return shipImage({ engine, image, remote: transport });
}
