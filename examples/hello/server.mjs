// The demo app: a small HTTP server with no dependencies, made to exercise deploys.
//   node server.mjs          serve HTTP on $PORT (default 3000)
//   node server.mjs migrate  a release command: exits 0, or 1 when MIGRATE=fail
//   node server.mjs worker   a background worker: logs a line every second until SIGTERM
//   node server.mjs healthcheck   for a HEALTHCHECK: the worker's heartbeat is fresh, or /up answers
// With DATA_DIR set (a volume of the role), GET /visits counts visits in a SQLite file there.
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { hostname } from "node:os";

const mode = process.argv[2] ?? "web";
// Less than Docker's default stop timeout (10 s), so a drained stop is never cut by SIGKILL.
const SHUTDOWN_TIMEOUT_MS = Number(process.env.SHUTDOWN_TIMEOUT_MS ?? 8000);

function log(message) {
  process.stdout.write(`${new Date().toISOString()} [${mode}] ${message}\n`);
}

/** The SQLite database in DATA_DIR (node:sqlite, built into Node), or undefined without one. */
async function visitsDb() {
  if (!process.env.DATA_DIR) return undefined;
  const { DatabaseSync } = await import("node:sqlite");
  const db = new DatabaseSync(`${process.env.DATA_DIR}/hello.db`);
  // WAL: the old and the new release read and write the file at once during a deploy.
  db.exec("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000;");
  db.exec("CREATE TABLE IF NOT EXISTS visits (id INTEGER PRIMARY KEY, version TEXT, at TEXT)");
  return db;
}

async function migrate() {
  if (process.env.MIGRATE === "fail") {
    process.stderr.write("migrate: failed on purpose (MIGRATE=fail)\n");
    process.exit(1);
  }
  const db = await visitsDb();
  if (db) {
    const { n } = db.prepare("SELECT count(*) AS n FROM visits").get();
    log(`visits table ready (${n} rows in ${process.env.DATA_DIR}/hello.db)`);
  }
  log(`migrations applied (version ${process.env.SLIPWAY_VERSION ?? "unknown"})`);
  process.exit(0);
}

// The worker touches this file every tick once ready; its health check reads how old it is.
const HEARTBEAT = "/tmp/hello-worker.heartbeat";
const HEARTBEAT_MAX_AGE_MS = 5000;

function worker() {
  let n = 0;
  // WORKER_READY_MS and WORKER_HEALTH=fail let tests see a slow or a failing worker health check.
  const readyAt = Date.now() + Number(process.env.WORKER_READY_MS ?? 0);
  const timer = setInterval(() => {
    log(`tick ${++n}`);
    if (process.env.WORKER_HEALTH !== "fail" && Date.now() >= readyAt) {
      writeFileSync(HEARTBEAT, `${n}\n`);
    }
  }, 1000);
  const stop = (signal) => {
    clearInterval(timer);
    log(`${signal}: stopped after ${n} ticks`);
    process.exit(0);
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  log("worker started");
}

async function web() {
  const port = Number(process.env.PORT ?? 3000);
  const db = await visitsDb();
  let shuttingDown = false;
  let inFlight = 0;

  const server = createServer((req, res) => {
    const started = Date.now();
    const url = new URL(req.url ?? "/", "http://app");
    inFlight++;
    res.on("close", () => {
      inFlight--;
      if (url.pathname !== "/up") {
        log(`${req.method} ${url.pathname} ${res.statusCode} ${Date.now() - started}ms`);
      }
    });
    // While draining, tell keep-alive clients to go elsewhere for their next request.
    if (shuttingDown) res.setHeader("Connection", "close");

    const send = (status, type, body) => {
      res.writeHead(status, { "Content-Type": type, "Cache-Control": "no-store" });
      res.end(body);
    };
    if (req.method !== "GET" && req.method !== "HEAD") {
      send(405, "text/plain", "method not allowed\n");
    } else if (url.pathname === "/up") {
      // HEALTH=fail and UP_DELAY_MS let tests (and curious users) see a failing or slow check.
      const failing = process.env.HEALTH === "fail";
      setTimeout(
        () => send(failing ? 500 : 200, "text/plain", failing ? "failing (HEALTH=fail)\n" : "ok\n"),
        Number(process.env.UP_DELAY_MS ?? 0),
      );
    } else if (url.pathname === "/") {
      const body = {
        version: process.env.SLIPWAY_VERSION ?? null,
        message: process.env.MESSAGE ?? null,
        pid: process.pid,
        hostname: hostname(),
      };
      send(200, "application/json", `${JSON.stringify(body)}\n`);
    } else if (url.pathname === "/visits" && db) {
      db.prepare("INSERT INTO visits (version, at) VALUES (?, ?)").run(
        process.env.SLIPWAY_VERSION ?? null,
        new Date().toISOString(),
      );
      const { n } = db.prepare("SELECT count(*) AS n FROM visits").get();
      send(200, "application/json", `${JSON.stringify({ visits: n })}\n`);
    } else if (url.pathname === "/slow") {
      const ms = Math.min(Math.max(Number(url.searchParams.get("ms") ?? 1000) || 0, 0), 60_000);
      setTimeout(() => send(200, "text/plain", `slept ${ms}ms\n`), ms);
    } else {
      send(404, "text/plain", "not found\n");
    }
  });

  const shutdown = (signal) => {
    if (shuttingDown) return;
    shuttingDown = true;
    log(`${signal}: draining ${inFlight} request(s)`);
    // Stops accepting; idle keep-alive connections are closed, busy ones finish their request.
    server.close(() => {
      log("drained, exiting");
      process.exit(0);
    });
    server.closeIdleConnections();
    const idle = setInterval(() => server.closeIdleConnections(), 100);
    idle.unref();
    setTimeout(() => {
      log(`still ${inFlight} request(s) after ${SHUTDOWN_TIMEOUT_MS}ms: exiting anyway`);
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS).unref();
  };
  process.once("SIGTERM", shutdown);
  process.once("SIGINT", shutdown);

  server.listen(port, () => {
    log(`listening on port ${port} (version ${process.env.SLIPWAY_VERSION ?? "unknown"})`);
  });
}

// Exit 0 when healthy. The container's main process (pid 1) says which kind of container this is.
async function healthcheck() {
  const main = readFileSync("/proc/1/cmdline", "utf8").split("\0");
  if (main.includes("worker")) {
    let age = Number.POSITIVE_INFINITY;
    try {
      age = Date.now() - statSync(HEARTBEAT).mtimeMs;
    } catch {}
    if (age > HEARTBEAT_MAX_AGE_MS) {
      process.stdout.write(
        Number.isFinite(age)
          ? `heartbeat is ${Math.round(age / 1000)}s old\n`
          : "no heartbeat yet\n",
      );
      process.exit(1);
    }
    process.exit(0);
  }
  const port = Number(process.env.PORT ?? 3000);
  try {
    const response = await fetch(`http://127.0.0.1:${port}/up`, {
      signal: AbortSignal.timeout(2000),
    });
    process.stdout.write(`/up answered ${response.status}\n`);
    process.exit(response.ok ? 0 : 1);
  } catch (error) {
    process.stdout.write(`/up: ${error.message}\n`);
    process.exit(1);
  }
}

if (mode === "migrate") await migrate();
else if (mode === "healthcheck") healthcheck();
else if (mode === "worker") worker();
else if (mode === "web") await web();
else {
  process.stderr.write(`usage: node server.mjs [migrate|worker|healthcheck]\n`);
  process.exit(2);
}
