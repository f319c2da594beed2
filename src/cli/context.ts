/**
 * What every command receives from the CLI layer: global flags, a reporter, and the way to load
 * the configuration. Commands know nothing of argument parsing.
 */
import { dirname, isAbsolute, resolve } from "node:path";
import type { LoadedConfig } from "../config/index.ts";
import { createReporter, type Reporter, redactor } from "../output/index.ts";
import type { SshSettings } from "../transport/index.ts";

export interface GlobalFlags {
  config?: string;
  environment?: string;
  json?: boolean;
  verbose?: boolean;
}

export interface CommandContext {
  flags: GlobalFlags;
  reporter: Reporter;
  /** Writes data for people or scripts to stdout, redacted. */
  print(text: string): void;
  /** Loads slipway.yml (and the environment's overlay) and registers its secrets for redaction. */
  loadConfig(): Promise<LoadedConfig>;
}

/** Builds the context for one CLI invocation. */
export function createContext(flags: GlobalFlags): CommandContext {
  const reporter = createReporter({
    redactor,
    verbose: flags.verbose ?? false,
    quiet: flags.json ?? false,
  });
  return {
    flags,
    reporter,
    print: (text) => process.stdout.write(`${redactor.redact(text)}\n`),
    loadConfig: async () => {
      const { loadConfig } = await import("../config/index.ts");
      const loaded = await loadConfig({
        ...(flags.config === undefined ? {} : { file: flags.config }),
        ...(flags.environment === undefined ? {} : { environment: flags.environment }),
      });
      redactor.add(...loaded.secrets.values.values());
      return loaded;
    },
  };
}

/** SSH settings for the transport, from slipway.yml; paths are relative to the config file. */
export function sshSettingsFrom(loaded: LoadedConfig): SshSettings {
  const base = dirname(resolve(loaded.file));
  const ssh = loaded.config.ssh;
  const fromBase = (path: string) =>
    path.startsWith("~") || isAbsolute(path) ? path : resolve(base, path);
  return {
    user: ssh.user,
    port: ssh.port,
    keys: ssh.keys.map(fromBase),
    connectTimeoutMs: ssh.connect_timeout,
    strictHostKeys: ssh.strict_host_keys,
    knownHostsFile: fromBase(ssh.known_hosts),
  };
}
