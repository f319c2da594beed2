/**
 * Runs commands on a host over SSH (ssh2): one connection per host, reused by every command,
 * with a bounded number of channels at once (sshd allows 10 sessions per connection by default).
 */
import { readFileSync } from "node:fs";
import { constants, homedir } from "node:os";
import { join } from "node:path";
import ssh2, { type AnyAuthMethod, type ClientChannel, type ConnectConfig } from "ssh2";
import { UserError } from "../errors/index.ts";
import { BaseTransport, formatMs, type SpawnIo, type SpawnResult } from "./base.ts";
import { type Command, renderCommand } from "./command.ts";
import {
  checkHostKey,
  fingerprint,
  hostKeyType,
  knownHostsToken,
  loadKnownHosts,
  pinHostKey,
} from "./known-hosts.ts";
import { resolveSshTarget, type SshTarget, type SshTargetInput } from "./ssh-target.ts";
import type { TransportEvents } from "./types.ts";

export interface SshOptions extends SshTargetInput {
  /** Give up connecting after this long (TCP connect and SSH handshake). Default 10s. */
  connectTimeoutMs?: number | undefined;
  /** Refuse hosts whose key is not pinned yet, instead of pinning on first use. */
  strictHostKeys?: boolean | undefined;
  /** Slipway's own pin file; new host keys are appended here. */
  knownHostsFile: string;
  /** Extra read-only known_hosts files; default ~/.ssh/known_hosts. */
  userKnownHostsFiles?: readonly string[] | undefined;
  /** ssh-agent socket; default $SSH_AUTH_SOCK. */
  agentSocket?: string | undefined;
  /** Channels open at once on the connection. Default 8. */
  maxChannels?: number | undefined;
  events?: SshEvents | undefined;
}

export interface SshEvents extends TransportEvents {
  /** A host key seen for the first time was pinned. */
  onHostKeyPinned?: (host: string, fingerprint: string, file: string) => void;
}

/** Facts about an open connection, for `slipway doctor`. */
export interface SshConnectionInfo {
  target: SshTarget;
  serverVersion: string;
  hostKeyFingerprint: string;
  hostKeyType: string;
  /** How the host key was accepted. */
  hostKey: "known" | "pinned";
  /** Which credential was accepted. */
  authenticatedWith: string;
  connectMs: number;
}

// ssh2 is CommonJS: Node cannot see all of its named exports from an ES module.
const { Client, utils } = ssh2;
type Client = InstanceType<typeof Client>;

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

export class SshTransport extends BaseTransport {
  readonly target: SshTarget;
  readonly #options: SshOptions;
  #connection: Promise<OpenConnection> | undefined;
  readonly #channels: Semaphore;

  constructor(options: SshOptions) {
    const target = resolveSshTarget(options);
    super(options.host, { sudo: target.user !== "root", events: options.events });
    this.target = target;
    this.#options = options;
    this.#channels = new Semaphore(options.maxChannels ?? 8);
  }

  /** Opens the connection (or returns the open one) and tells how it was made. */
  async connect(): Promise<SshConnectionInfo> {
    this.#connection ??= this.#open().catch((error: unknown) => {
      this.#connection = undefined; // the next command tries again
      throw error;
    });
    return (await this.#connection).info;
  }

  protected async spawn(command: Command, io: SpawnIo): Promise<SpawnResult> {
    const release = await this.#channels.acquire();
    try {
      // A dropped connection is opened again for the next command: after an outage the lock can
      // still be released and a deploy can clean up what it started.
      let open = await this.#current();
      if (open.closed) {
        this.#connection = undefined;
        open = await this.#current();
      }
      return await runChannel(open, renderCommand(command), io, this.host);
    } finally {
      release();
    }
  }

  async #current(): Promise<OpenConnection> {
    await this.connect();
    const connection = this.#connection;
    if (!connection) throw new Error("connection closed");
    return connection;
  }

  async close(): Promise<void> {
    const connection = this.#connection;
    this.#connection = undefined;
    if (!connection) return;
    try {
      (await connection).client.end();
    } catch {
      // a connection that never opened has nothing to close
    }
  }

  async #open(): Promise<OpenConnection> {
    const target = this.target;
    const timeoutMs = this.#options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const token = knownHostsToken(target.hostname, target.port);
    const pinFile = this.#options.knownHostsFile;
    const entries = await loadKnownHosts([
      pinFile,
      ...(this.#options.userKnownHostsFiles ?? [join(homedir(), ".ssh", "known_hosts")]),
    ]);
    const agentSocket = this.#options.agentSocket ?? process.env.SSH_AUTH_SOCK;
    const auth = authMethods(target, agentSocket);
    const where = `${target.user}@${target.hostname}:${target.port}`;

    let hostKeyProblem: UserError | undefined;
    let presentedKey: Buffer | undefined;
    const seen: { hostKey: "known" | "pinned" } = { hostKey: "known" };
    let authenticatedWith = "";
    const client = new Client();
    const started = performance.now();

    const config: ConnectConfig = {
      host: target.hostname,
      port: target.port,
      username: target.user,
      readyTimeout: timeoutMs,
      keepaliveInterval: 15_000,
      keepaliveCountMax: 3,
      authHandler: (_left, _partial, next) => {
        const method = auth.shift();
        if (!method) return next(false as unknown as AnyAuthMethod);
        authenticatedWith = method.label;
        next(method.method);
      },
      hostVerifier: (key: Buffer) => {
        presentedKey = key;
        const check = checkHostKey(entries, token, key);
        if (check.status === "known") return true;
        if (check.status === "unknown" && !this.#options.strictHostKeys) {
          seen.hostKey = "pinned";
          return true;
        }
        hostKeyProblem = hostKeyError(check, token, key, pinFile, target);
        return false;
      },
    };

    await new Promise<void>((resolvePromise, reject) => {
      const onError = (error: Error & { level?: string; code?: string }) => {
        client.removeListener("ready", onReady);
        // ssh2 may report the same failure again ("Connection lost before handshake").
        client.on("error", () => {});
        client.end();
        reject(hostKeyProblem ?? connectError(error, where, timeoutMs, target, agentSocket));
      };
      const onReady = () => {
        client.removeListener("error", onError);
        // Later errors (a dropped connection) surface through the commands that fail.
        client.on("error", () => {});
        resolvePromise();
      };
      client.once("ready", onReady);
      client.once("error", onError);
      client.connect(config);
      // A command is a few small packets each way: with Nagle's algorithm against the peer's
      // delayed ACKs, each of them waited ~40 ms (88 ms a command on loopback, 3 ms without).
      client.setNoDelay(true);
    });

    if (!presentedKey) throw new Error("ssh connection has no host key");
    if (seen.hostKey === "pinned") {
      await pinHostKey(pinFile, token, presentedKey);
      this.#options.events?.onHostKeyPinned?.(this.host, fingerprint(presentedKey), pinFile);
    }
    const serverVersion = (client as unknown as { _remoteVer?: string })._remoteVer ?? "unknown";
    const open: OpenConnection = {
      closed: false,
      client,
      info: {
        target,
        serverVersion,
        hostKeyFingerprint: fingerprint(presentedKey),
        hostKeyType: hostKeyType(presentedKey),
        hostKey: seen.hostKey,
        authenticatedWith,
        connectMs: Math.round(performance.now() - started),
      },
    };
    const closed = () => {
      open.closed = true;
    };
    client.on("close", closed);
    client.on("end", closed);
    return open;
  }
}

interface OpenConnection {
  client: Client;
  info: SshConnectionInfo;
  /** Set when the connection ends: the next command opens a new one. */
  closed: boolean;
}

function runChannel(connection: OpenConnection, command: string, io: SpawnIo, host: string) {
  return new Promise<SpawnResult>((resolvePromise, reject) => {
    const { terminal } = io;
    const options = terminal
      ? { pty: { term: terminal.term, rows: terminal.rows, cols: terminal.cols } }
      : {};
    connection.client.exec(command, options, (error, channel: ClientChannel) => {
      if (error) {
        reject(
          new UserError({
            code: "ssh.channel",
            message: `Could not start a command on ${host}: ${error.message}`,
            hint: "The SSH connection may have dropped, or sshd limits sessions (MaxSessions).",
            cause: error,
          }),
        );
        return;
      }
      let code: number | undefined;
      const unsubscribe = terminal?.onResize?.((rows, cols) => channel.setWindow(rows, cols, 0, 0));
      channel.on("close", () => unsubscribe?.());
      channel.on("data", io.onStdout);
      channel.stderr.on("data", io.onStderr);
      channel.on("exit", (exitCode: number | null, signal?: string) => {
        code =
          exitCode ??
          128 + (signal ? (constants.signals[`SIG${signal}` as NodeJS.Signals] ?? 0) : 0);
      });
      let aborted = false;
      channel.on("close", () => {
        if (code === undefined && !aborted && connection.closed) {
          // No exit status and the connection is gone: whether the command finished is unknown.
          reject(
            new UserError({
              code: "ssh.dropped",
              message: `The SSH connection to ${host} dropped while a command was running.`,
              hint: "The command may or may not have finished there. Check the network and run again: deploys converge.",
            }),
          );
          return;
        }
        resolvePromise({ code: code ?? 255 });
      });
      const onAbort = () => {
        aborted = true;
        // sshd may keep the channel until the process ends; do not wait for it.
        channel.signal("KILL");
        channel.close();
        resolvePromise({ code: code ?? 255 });
      };
      io.signal.addEventListener("abort", onAbort, { once: true });
      if (io.stdin) {
        io.stdin.on("error", () => channel.destroy());
        io.stdin.pipe(channel);
      } else {
        channel.end();
      }
    });
  });
}

interface LabelledAuth {
  label: string;
  method: AnyAuthMethod;
}

function authMethods(target: SshTarget, agentSocket: string | undefined): LabelledAuth[] {
  const methods: LabelledAuth[] = [];
  if (agentSocket) {
    methods.push({
      label: "ssh-agent",
      method: { type: "agent", username: target.user, agent: agentSocket },
    });
  }
  for (const file of target.keyFiles) {
    const key = readFileSync(file);
    const parsed = utils.parseKey(key);
    // Encrypted keys without a passphrase cannot be used here; the agent is the way to use them.
    if (parsed instanceof Error) continue;
    methods.push({ label: file, method: { type: "publickey", username: target.user, key } });
  }
  return methods;
}

function hostKeyError(
  check: ReturnType<typeof checkHostKey>,
  token: string,
  key: Buffer,
  pinFile: string,
  target: SshTarget,
): UserError {
  const presented = fingerprint(key);
  if (check.status === "changed" || check.status === "revoked") {
    const { entry } = check;
    return new UserError({
      code: check.status === "changed" ? "ssh.host_key_changed" : "ssh.host_key_revoked",
      message:
        check.status === "changed"
          ? `The host key of ${token} has changed: it now presents ${presented}, which does not match the key pinned in ${entry.file} line ${entry.line}. Someone may be intercepting the connection, or the server was rebuilt.`
          : `The host key of ${token} (${presented}) is marked @revoked in ${entry.file} line ${entry.line}.`,
      hint:
        check.status === "changed"
          ? `If you rebuilt the server, check the new key out of band, then remove the old one: ssh-keygen -R '${token}' -f ${entry.file}`
          : "Use another host, or remove the @revoked line if it is wrong.",
    });
  }
  return new UserError({
    code: "ssh.host_key_unknown",
    message: `The host key of ${token} (${presented}) is not pinned, and ssh.strict_host_keys is on.`,
    hint: `Check the fingerprint out of band, then add it: ssh-keyscan -p ${target.port} ${target.hostname} >> ${pinFile}`,
  });
}

function connectError(
  error: Error & { level?: string; code?: string },
  where: string,
  timeoutMs: number,
  target: SshTarget,
  agentSocket: string | undefined,
): UserError {
  const port = target.port;
  if (error.level === "client-timeout" || /timed out/i.test(error.message)) {
    return new UserError({
      code: "ssh.timeout",
      message: `Could not connect to ${where} within ${formatMs(timeoutMs)}: no SSH answer.`,
      hint: `Check that the host is up and that port ${port} is open to you (firewall, security group); raise ssh.connect_timeout if the network is slow.`,
      cause: error,
    });
  }
  if (error.code === "ECONNREFUSED") {
    return new UserError({
      code: "ssh.refused",
      message: `Connection refused by ${target.hostname}:${port}.`,
      hint: `Is sshd running there and listening on port ${port}? Set ssh.port in slipway.yml if it listens elsewhere.`,
      cause: error,
    });
  }
  if (error.code === "ENOTFOUND" || error.code === "EAI_AGAIN") {
    return new UserError({
      code: "ssh.unknown_host",
      message: `Cannot resolve the host name ${target.hostname}.`,
      hint: "Check the spelling in slipway.yml, or its DNS record.",
      cause: error,
    });
  }
  if (error.code === "EHOSTUNREACH" || error.code === "ENETUNREACH") {
    return new UserError({
      code: "ssh.unreachable",
      message: `No route to ${target.hostname}:${port}.`,
      hint: "Check the address and your network connection.",
      cause: error,
    });
  }
  if (error.level === "client-authentication") {
    const tried = [agentSocket ? "ssh-agent" : undefined, ...target.keyFiles].filter(Boolean);
    return new UserError({
      code: "ssh.auth",
      message: `Authentication failed for ${where} (tried: ${tried.length > 0 ? tried.join(", ") : "nothing: no agent and no key file found"}).`,
      hint: "Add your public key to the server's ~/.ssh/authorized_keys, load it into ssh-agent, or list it under ssh.keys in slipway.yml.",
      cause: error,
    });
  }
  return new UserError({
    code: "ssh.connect",
    message: `Could not connect to ${where}: ${error.message}`,
    hint: "Run again with --verbose for details.",
    cause: error,
  });
}

/** A counting semaphore: at most `limit` holders at once, others wait in order. */
class Semaphore {
  #free: number;
  readonly #waiting: Array<() => void> = [];

  constructor(limit: number) {
    this.#free = limit;
  }

  async acquire(): Promise<() => void> {
    if (this.#free > 0) {
      this.#free--;
    } else {
      await new Promise<void>((resolvePromise) => this.#waiting.push(resolvePromise));
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    };
  }
}
