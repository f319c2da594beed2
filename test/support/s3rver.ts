/**
 * s3rver (an S3-compatible server) in a child process on loopback, so that it can be killed like
 * a real outage; its log is kept. Every one started is killed when the tests end.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { type BackupStore, s3Store } from "../../src/backup/index.ts";
import { onProcessExit } from "../rig/index.ts";

const MiB = 1024 * 1024;
const children = new Set<ChildProcess>();
onProcessExit(killAllS3rvers);

/** Kills every s3rver still running (for after() hooks). */
export function killAllS3rvers(): void {
  for (const c of children) c.kill("SIGKILL");
  children.clear();
}

/** The access key s3rver takes (any secret works with it). */
export const S3RVER_KEY = "S3RVER";

export class S3rver {
  log = "";
  private child: ChildProcess | undefined;
  readonly port: number;
  readonly data: string;
  readonly bucket: string;
  constructor(port: number, data: string, bucket = "backups") {
    this.port = port;
    this.data = data;
    this.bucket = bucket;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn(
      process.execPath,
      [
        "node_modules/s3rver/bin/s3rver.js",
        ...["-d", this.data, "-a", "127.0.0.1", "-p", String(this.port)],
        ...["--configure-bucket", this.bucket],
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    children.add(child);
    this.child = child;
    child.stdout?.setEncoding("utf8").on("data", (d: string) => {
      this.log += d;
    });
    child.stderr?.setEncoding("utf8").on("data", (d: string) => {
      this.log += d;
    });
    const deadline = Date.now() + 20_000;
    while (!this.log.includes("S3rver listening")) {
      if (Date.now() > deadline) throw new Error(`s3rver did not start:\n${this.log}`);
      await sleep(50);
    }
  }

  async kill(): Promise<void> {
    const c = this.child;
    if (!c) return;
    const gone = new Promise((r) => c.once("exit", r));
    c.kill("SIGKILL");
    await gone;
    children.delete(c);
    this.child = undefined;
  }

  store(prefix = "site/prod"): BackupStore {
    return s3Store({
      bucket: this.bucket,
      prefix,
      endpoint: this.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: S3RVER_KEY, secretAccessKey: S3RVER_KEY },
      partSize: 5 * MiB,
      maxAttempts: 2,
    });
  }
}
