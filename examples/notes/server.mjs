// The accessories example: notes kept in Postgres, a counter of writes in Redis, both reached
// through the URLs Slipway puts in the app's env (DATABASE_URL, REDIS_URL).
//   node server.mjs           serve HTTP on $PORT (default 3000)
//   node server.mjs migrate   the release command: creates the notes table
// GET /up checks both; POST /notes?text=... writes one; GET /notes lists them with the count.
import { createServer } from "node:http";
import pg from "pg";
import { createClient } from "redis";

const mode = process.argv[2] ?? "web";

function log(message) {
  process.stdout.write(`${new Date().toISOString()} [${mode}] ${message}\n`);
}

function required(name) {
  const value = process.env[name];
  if (!value) {
    process.stderr.write(`${name} is not set: is the accessory declared in slipway.yml?\n`);
    process.exit(2);
  }
  return value;
}

async function migrate() {
  const client = new pg.Client({ connectionString: required("DATABASE_URL") });
  await client.connect();
  await client.query(
    "CREATE TABLE IF NOT EXISTS notes (id serial PRIMARY KEY, text text NOT NULL, version text, created timestamptz NOT NULL DEFAULT now())",
  );
  await client.end();
  log("notes table ready");
}

async function web() {
  const port = Number(process.env.PORT ?? 3000);
  const version = process.env.SLIPWAY_VERSION ?? null;
  // A pool keeps its connections: a password rotated meanwhile does not end them.
  const db = new pg.Pool({ connectionString: required("DATABASE_URL"), max: 5 });
  db.on("error", (error) => log(`postgres: ${error.message}`));
  const redis = createClient({ url: required("REDIS_URL") });
  redis.on("error", (error) => log(`redis: ${error.message}`));
  await redis.connect();

  const send = (res, status, body) => {
    res.writeHead(status, { "Content-Type": "application/json", "Cache-Control": "no-store" });
    res.end(`${JSON.stringify(body)}\n`);
  };

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://app");
    try {
      if (url.pathname === "/up") {
        await db.query("SELECT 1");
        await redis.ping();
        send(res, 200, { ok: true });
      } else if (url.pathname === "/notes" && req.method === "POST") {
        const text = url.searchParams.get("text") ?? "";
        const row = await db.query(
          "INSERT INTO notes (text, version) VALUES ($1, $2) RETURNING id",
          [text, version],
        );
        const count = await redis.incr("notes:written");
        send(res, 201, { id: row.rows[0].id, written: count, version });
      } else if (url.pathname === "/notes" || url.pathname === "/") {
        const rows = await db.query("SELECT id, text, version FROM notes ORDER BY id");
        const written = Number((await redis.get("notes:written")) ?? 0);
        send(res, 200, { version, notes: rows.rows, written });
      } else {
        send(res, 404, { error: "not found" });
      }
    } catch (error) {
      log(`${req.method} ${url.pathname}: ${error.message}`);
      send(res, 503, { error: error.message });
    }
  });

  const shutdown = (signal) => {
    log(`${signal}: closing`);
    server.close(async () => {
      await Promise.allSettled([db.end(), redis.quit()]);
      process.exit(0);
    });
    server.closeIdleConnections();
    setTimeout(() => process.exit(1), 8000).unref();
  };
  process.once("SIGTERM", shutdown);
  process.once("SIGINT", shutdown);
  server.listen(port, () => log(`listening on port ${port} (version ${version ?? "unknown"})`));
}

if (mode === "migrate") await migrate();
else if (mode === "web") await web();
else {
  process.stderr.write("usage: node server.mjs [migrate]\n");
  process.exit(2);
}
