/** Runs the bootstrap plan on every host of the app, in parallel. */
import { detectLocalEngine, localImageInspectArgv, shipImage } from "../build/index.ts";
import type { LoadedConfig } from "../config/index.ts";
import type { Reporter } from "../output/index.ts";
import { applySteps } from "../plan/index.ts";
import { planProxyBoot } from "../proxy/index.ts";
import { type Connections, LocalTransport, onHosts, type Transport } from "../transport/index.ts";
import { ENGINE_PROBE, parseEngineProbe, planBridgePin, planHostBase } from "./index.ts";

export interface BootstrapReport {
  host: string;
  changed: string[];
  error?: string;
}

/** Bootstraps every host; the proxy image is shipped from this machine when it has it. */
export async function bootstrapHosts(options: {
  loaded: LoadedConfig;
  connections: Connections;
  reporter: Reporter;
}): Promise<BootstrapReport[]> {
  const { loaded, connections, reporter } = options;
  const hosts = [...new Set(Object.values(loaded.config.servers).flatMap((r) => r.hosts))];
  const proxyImage = loaded.config.proxy.image;
  const engine = await detectLocalEngine().catch(() => undefined);
  const localHasProxy =
    engine !== undefined &&
    (await new LocalTransport().run(localImageInspectArgv(engine, proxyImage), { check: false }))
      .code === 0;

  const outcomes = await onHosts(
    hosts,
    async (host) => {
      const transport = connections.get(host);
      const say = (title: string, changed: boolean) =>
        reporter.info(`${host}: ${changed ? "✓ done:" : "· already:"} ${title}`);
      // The engine decides the plan: the host's Docker, else its Podman, else Docker installed.
      const facts = parseEngineProbe((await transport.run(ENGINE_PROBE)).stdout);
      const base = await applySteps(transport, planHostBase(facts), (o) => say(o.title, o.changed));
      let shipped: string[] = [];
      if (engine && localHasProxy) {
        const result = await shipImage({ engine, image: proxyImage, remote: transport });
        if (result === "shipped") shipped = [`shipped ${proxyImage}`];
      }
      // The bridge pin after the proxy boot: the proxy's container makes the bridge exist.
      const proxy = await applySteps(
        transport,
        [...planProxyBoot(proxyImage), ...planBridgePin(facts)],
        (o) => say(o.title, o.changed),
      );
      return [...base, ...proxy]
        .filter((o) => o.changed)
        .map((o) => o.title)
        .concat(shipped);
    },
    { limit: 8 },
  );
  return outcomes.map((o) =>
    o.status === "ok"
      ? { host: o.host, changed: o.value }
      : {
          host: o.host,
          changed: [],
          error:
            o.status === "failed"
              ? o.error instanceof Error
                ? o.error.message
                : String(o.error)
              : "skipped",
        },
  );
}

/**
 * The proxy network's bridge pin for one host, to run before a rollout changes its containers
 * (and again after, should the proxy's boot have made the bridge). The engine is probed once;
 * on Docker hosts the pin does nothing. Said only with --verbose.
 */
export async function proxyBridgePin(
  transport: Transport,
  reporter: Reporter,
): Promise<() => Promise<void>> {
  const steps = planBridgePin(parseEngineProbe((await transport.run(ENGINE_PROBE)).stdout));
  return async () => {
    if (steps.length === 0) return;
    await applySteps(transport, steps, (o) => {
      if (o.changed && reporter.verbose) reporter.info(`${transport.host}: ✓ done: ${o.title}`);
    });
  };
}
