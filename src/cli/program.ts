/**
 * Argument parsing and error presentation. Commands live in ./commands and are loaded only when
 * chosen; this file maps every failure to a documented exit code and a message with a hint.
 */
import { Command, CommanderError, Option } from "commander";
import { ConfigError, ExitCode, formatConfigIssue, SlipwayError } from "../errors/index.ts";
import { redactor } from "../output/index.ts";
import { type CommandContext, createContext, type GlobalFlags } from "./context.ts";

type Action = (
  context: CommandContext,
  options: Record<string, unknown>,
  args: string[],
) => Promise<number | undefined>;

/** Runs the CLI with the given arguments and resolves with the exit code. */
export async function runCli(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: "user" });
    return Number(process.exitCode ?? ExitCode.ok);
  } catch (error) {
    return reportError(error, program.opts<GlobalFlags>());
  }
}

function buildProgram(): Command {
  const program = new Command("slipway")
    .description("From repository to a hardened, monitored, backed-up deployment over SSH.")
    .option("-c, --config <file>", "configuration file", "slipway.yml")
    .option("-d, --environment <name>", "environment overlay, e.g. staging")
    .option("--json", "print data as JSON for scripts")
    .option("--verbose", "show every command run on every host, and stack traces")
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({ writeErr: (text) => process.stderr.write(text) })
    .addHelpText(
      "after",
      "\nslipway --version (or -V) prints the version.\nExit codes: 0 ok, 1 failure, 2 usage or config error, 3 health check failed (rolled back), 4 locked.",
    );

  const config = program.command("config").description("check and describe slipway.yml");
  config
    .command("check")
    .description("validate slipway.yml and print the resolved config, secrets redacted")
    .action(lazy(() => import("./commands/config.ts"), "check"));
  config
    .command("schema")
    .description("print the JSON Schema of slipway.yml (for editors)")
    .action(lazy(() => import("./commands/config.ts"), "schema"));

  program
    .command("doctor")
    .description("self-test the connection to every host: SSH, quoting, uploads, streaming")
    .addOption(new Option("--hosts <list>", "only these hosts (comma-separated)"))
    .addOption(new Option("--limit <n>", "hosts checked at once").default("8"))
    .action(lazy(() => import("./commands/doctor.ts"), "doctor"));

  const server = program.command("server").description("prepare hosts");
  server
    .command("bootstrap")
    .description("install Docker, the private network and the proxy on every host (idempotent)")
    .action(lazy(() => import("./commands/deploy.ts"), "bootstrap"));

  program
    .command("deploy")
    .description("build, ship and release a new version with a health-gated, draining switch")
    .addOption(new Option("--version <version>", "release this version (default: the git commit)"))
    .addOption(new Option("--skip-build", "use the image already built for the version"))
    .action(lazy(() => import("./commands/deploy.ts"), "deploy"));

  program
    .command("rollback")
    .description("go back to a kept release (default: the previous one), its env included")
    .argument("[version]", "the version to go back to")
    .action(lazy(() => import("./commands/deploy.ts"), "rollback"));

  program
    .command("releases")
    .description("list releases: version, outcome, when, who")
    .action(lazy(() => import("./commands/deploy.ts"), "releases"));

  const operations = () => import("./commands/operations.ts");
  program
    .command("status")
    .description("per host and role: container, version, state, health, uptime, restarts; lock")
    .action(lazy(operations, "status"));

  program
    .command("logs")
    .description("logs of the running containers, each line prefixed with host and role")
    .addOption(new Option("-f, --follow", "keep streaming until Ctrl-C"))
    .addOption(new Option("--role <role>", "only this role (default: every role)"))
    .addOption(new Option("--host <host>", "only this host"))
    .addOption(new Option("--since <when>", "from this long ago (10m, 1h) or this RFC 3339 time"))
    .addOption(new Option("--tail <n>", "the last n lines, or all (default: 100 without --since)"))
    .action(lazy(operations, "logs"));

  program
    .command("exec")
    .description("run a command in the role's running container; exits with its exit code")
    .argument("<role>", "the role whose container runs it")
    .argument("<command...>", "the command, after --")
    .addOption(new Option("--host <host>", "on this host (default: the role's first)"))
    .addOption(new Option("-i, --interactive", "pass this terminal's stdin to the command"))
    .addHelpText("after", "\nExample: slipway exec web -- node -e 'console.log(process.version)'")
    .action(lazy(operations, "exec"));

  program
    .command("run")
    .description("run a command in a one-off container of the current release, with its env")
    .argument("<command...>", "the command, after --")
    .addOption(new Option("--role <role>", "whose image and env (default: the first role)"))
    .addOption(new Option("--host <host>", "on this host (default: the role's first)"))
    .addOption(new Option("-i, --interactive", "pass this terminal's stdin to the command"))
    .addHelpText("after", "\nExample: slipway run -- node server.mjs migrate")
    .action(lazy(operations, "run"));

  program
    .command("restart")
    .description("start the current version again through the health gate, without downtime")
    .addOption(new Option("--role <role>", "only this role (default: every role)"))
    .action(lazy(operations, "restart"));

  program
    .command("prune")
    .description("list stopped containers, old releases' images and env files; remove with --yes")
    .addOption(new Option("--yes", "remove what is listed"))
    .action(lazy(operations, "prune"));

  const accessories = () => import("./commands/accessory.ts");
  const accessory = program
    .command("accessory")
    .description(
      "databases and caches beside the app: boot, stop, start, restart, logs, exec, upgrade, remove",
    );
  accessory
    .command("boot")
    .description(
      "start accessories that are not running (all without NAME); never restarts a running one",
    )
    .argument("[names...]", "accessories to boot")
    .action(lazy(accessories, "boot"));
  accessory
    .command("stop")
    .description("stop accessories; their data stays")
    .argument("[names...]", "accessories to stop")
    .action(lazy(accessories, "stop"));
  accessory
    .command("start")
    .description("start stopped accessories and wait for their health")
    .argument("[names...]", "accessories to start")
    .action(lazy(accessories, "start"));
  accessory
    .command("restart")
    .description("replace the container with one of the current settings, on the same data")
    .argument("[names...]", "accessories to restart")
    .action(lazy(accessories, "restart"));
  accessory
    .command("logs")
    .description("the accessory's logs")
    .argument("<name>", "the accessory")
    .addOption(new Option("-f, --follow", "keep streaming new lines until Ctrl-C"))
    .addOption(new Option("--tail <n>", "the last n lines (default 100)"))
    .action(lazy(accessories, "logs"));
  accessory
    .command("exec")
    .description("run a command in the accessory's container; exits with its exit code")
    .argument("<name>", "the accessory")
    .argument("<command...>", "the command, after --")
    .addOption(new Option("-i, --interactive", "pass this terminal's stdin to the command"))
    .addHelpText("after", "\nExample: slipway accessory exec db -- psql -c 'select 1'")
    .action(lazy(accessories, "exec"));
  accessory
    .command("upgrade")
    .description("move to another version on the same data (refuses a Postgres major version)")
    .argument("<name>", "the accessory")
    .addOption(new Option("--to <version>", "the version (image tag) to run"))
    .action(lazy(accessories, "upgrade"));
  accessory
    .command("remove")
    .description("remove the container (with --yes); its data too only with --delete-data")
    .argument("<name>", "the accessory")
    .addOption(new Option("--yes", "do it"))
    .addOption(new Option("--delete-data", "also delete its volume and credentials"))
    .action(lazy(accessories, "remove"));
  program
    .command("db")
    .description("database consoles")
    .command("console")
    .description("open psql, mysql, mongosh or redis-cli in the accessory's container, logged in")
    .argument("<name>", "the accessory")
    .action(lazy(accessories, "dbConsole"));

  const monitorCommands = () => import("./commands/monitor.ts");
  const agent = program
    .command("agent")
    .description("the agent on the app's hosts: checks, incidents, notifications, /metrics");
  agent
    .command("install")
    .description("put the agent on each host with this app's checks (again: bring it up to date)")
    .action(lazy(monitorCommands, "install"));
  agent
    .command("status")
    .description("whether the agent runs on each host")
    .action(lazy(monitorCommands, "agentStatus"));
  agent
    .command("logs")
    .description("the agent's logs on each host")
    .addOption(new Option("--tail <n>", "the last n lines (default 100)"))
    .action(lazy(monitorCommands, "agentLogs"));
  agent
    .command("upgrade")
    .description("this Slipway's agent on each host, its state kept; reports from → to")
    .action(lazy(() => import("./commands/agent-api.ts"), "upgrade"));
  const monitor = program
    .command("monitor")
    .description(
      "what the agent sees: checks, incidents; acknowledge, silence, test notifications",
    );
  monitor
    .command("status")
    .description("each check on each host; exit 1 when one has an open incident")
    .action(lazy(monitorCommands, "status"));
  monitor
    .command("incidents")
    .description("open incidents (--all: resolved ones too)")
    .addOption(new Option("--all", "resolved incidents too"))
    .action(lazy(monitorCommands, "incidents"));
  monitor
    .command("ack")
    .description("acknowledge an open incident")
    .argument("<id>", "the incident's id (slipway monitor incidents)")
    .addOption(new Option("--by <name>", "who (default: $USER)"))
    .addOption(new Option("--host <host>", "the host whose incident it is (default: the first)"))
    .action(lazy(monitorCommands, "ack"));
  monitor
    .command("silence")
    .description(
      "no notifications for a while (a maintenance window); incidents are still recorded",
    )
    .argument("[check]", "one check (default: every check of the app)")
    .addOption(new Option("--for <duration>", "how long (default 30m)"))
    .addOption(new Option("--from <time>", "start later: RFC 3339, or HH:MM today (default: now)"))
    .addOption(new Option("--reason <text>", "why, kept with the silence"))
    .action(lazy(monitorCommands, "silence"));
  monitor
    .command("open")
    .description("the agent's status page on this machine, through SSH, until Ctrl-C")
    .addOption(new Option("--port <n>", "local port (default: any free one)"))
    .addOption(new Option("--host <host>", "whose agent (default: the app's first host)"))
    .action(lazy(monitorCommands, "open"));
  monitor
    .command("ping-url")
    .description(
      "a heartbeat check's ping URLs (they hold its secret key: printed on request only)",
    )
    .argument("<check>", "the heartbeat check")
    .action(lazy(monitorCommands, "pingUrl"));
  monitor
    .command("test-notify")
    .description("send a test notification through each notifier; exit 1 when one fails")
    .action(lazy(monitorCommands, "testNotify"));
  const agentApi = () => import("./commands/agent-api.ts");
  monitor
    .command("api")
    .description("one request to the agent's API on each host (the token stays there)")
    .argument("<method>", "GET, POST, PUT, PATCH or DELETE")
    .argument("<path>", "e.g. /api/settings or /api/checks/hello/web")
    .addOption(new Option("--data <json>", "the request's JSON body (-: read it from stdin)"))
    .addOption(new Option("--host <host>", "one host (default: every host of the app)"))
    .action(lazy(agentApi, "api"));

  const cronCommands = () => import("./commands/cron.ts");
  const cron = program
    .command("cron")
    .description("the app's cron jobs, run by the agent (slipway agent install gives them)");
  cron
    .command("status")
    .description("each job: schedule, last run and its outcome, next run; exit 1 when one failed")
    .action(lazy(cronCommands, "status"));
  cron
    .command("run")
    .description("run a job now through its agent, wait, print its output, exit with its code")
    .argument("<job>", "the job's name in cron:")
    .action(lazy(cronCommands, "run"));
  cron
    .command("logs")
    .description("the output of a job's recent runs")
    .argument("<job>", "the job's name in cron:")
    .addOption(new Option("--runs <n>", "how many runs (default 5)"))
    .action(lazy(cronCommands, "logs"));

  const backupCommands = () => import("./commands/backup.ts");
  const backup = program
    .command("backup")
    .description("backups of the accessories, volumes and SQLite files in slipway.yml's backups");
  backup
    .command("run")
    .description("back up now through the agent of each target's host (all without NAME)")
    .argument("[names...]", "targets in backups.targets")
    .action(lazy(backupCommands, "run"));
  backup
    .command("list")
    .description("each target's backups: status, size, age, verified")
    .argument("[names...]", "targets in backups.targets")
    .action(lazy(backupCommands, "list"));
  backup
    .command("verify")
    .description("restore a backup into a throwaway container and compare; exit 1 when it fails")
    .argument("<name>", "the target")
    .addOption(new Option("--backup <id>", "this backup (default: the newest whole one)"))
    .addOption(new Option("--identity <file>", "age identity file (default: backups.identity)"))
    .action(lazy(backupCommands, "verify"));
  backup
    .command("restore")
    .description(
      "restore into a new accessory, volume or file (--to); in place only with --yes, after a safety backup",
    )
    .argument("<name>", "the target")
    .addOption(new Option("--backup <id>", "this backup (default: the newest whole one)"))
    .addOption(
      new Option("--to <name>", "a new accessory, volume or file (default: NAME-restored)"),
    )
    .addOption(
      new Option("--from-file <path>", "a backup folder on this machine (manifest.json and parts)"),
    )
    .addOption(new Option("--identity <file>", "age identity file (default: backups.identity)"))
    .addOption(new Option("--yes", "without --to: in place, after a safety backup"))
    .action(lazy(backupCommands, "restore"));
  backup
    .command("prune")
    .description("apply retention now: list what goes, remove it only with --yes")
    .argument("[names...]", "targets in backups.targets")
    .addOption(new Option("--yes", "remove what is listed"))
    .action(lazy(backupCommands, "prune"));

  const certsCommands = () => import("./commands/certs.ts");
  const certs = program
    .command("certs")
    .description("the site's HTTPS certificate (proxy.tls) on its web hosts");
  certs
    .command("issue")
    .description(
      "get a certificate when the site has none, misses a domain or is due; place it on every web host",
    )
    .action(lazy(certsCommands, "issue"));
  certs
    .command("renew")
    .description("renew when due (30 days before expiry, or when the CA says); --force: now")
    .addOption(new Option("--force", "renew now, whatever the certificate in place"))
    .action(lazy(certsCommands, "renew"));
  certs
    .command("status")
    .description(
      "per web host: names, issuer, expiry, last attempt and its error (exit 1 on a problem)",
    )
    .action(lazy(certsCommands, "status"));

  program
    .command("render")
    .description("configuration for other tools, from slipway.yml")
    .command("prometheus")
    .description(
      "a scrape job for the agents and alert rules of the checks (promtool check accepts them)",
    )
    .addOption(new Option("--out <dir>", "write prometheus.yml and slipway-rules.yml there"))
    .action(lazy(monitorCommands, "renderPrometheusFiles"));

  const secretsCommands = () => import("./commands/secrets.ts");
  const secrets = program
    .command("secrets")
    .description("the project's secrets files (.slipway/secrets, .slipway/secrets.<env> with -d)");
  secrets
    .command("generate")
    .description("a crypto-random, URL-safe value for NAME, written to the secrets file")
    .argument("<name>", "the variable, e.g. SESSION_SECRET")
    .addOption(new Option("--length <n>", "characters (default 32)"))
    .addOption(new Option("--force", "replace an existing value"))
    .action(lazy(secretsCommands, "generate"));
  secrets
    .command("set")
    .description("NAME's value from stdin (typed without echo, or piped); never from argv")
    .argument("<name>", "the variable")
    .argument("[value...]", "refused: values never go in argv")
    .action(lazy(secretsCommands, "set"));
  secrets
    .command("list")
    .description("the names in the secrets files, never their values")
    .action(lazy(secretsCommands, "list"));
  secrets
    .command("show")
    .description("NAME's length, digest and file; the value itself only with --reveal")
    .argument("<name>", "the variable")
    .addOption(new Option("--reveal", "print the value"))
    .action(lazy(secretsCommands, "show"));
  secrets
    .command("rotate")
    .description(
      "a new value for an accessory's password or a secret, the app restarted with it (--yes)",
    )
    .argument("<name>", "an accessory (its password) or a name of env.secret")
    .addOption(new Option("--yes", "do it"))
    .action(lazy(secretsCommands, "rotate"));
  secrets
    .command("diff")
    .description(
      "local values against each host's current release, by digest (exit 1 when any differs)",
    )
    .action(lazy(secretsCommands, "diff"));

  const lock = program.command("lock").description("the deploy lock");
  lock
    .command("status")
    .description("who holds the deploy lock, since when, and why")
    .action(lazy(() => import("./commands/deploy.ts"), "lockStatus"));
  lock
    .command("acquire")
    .description("hold the lock by hand (maintenance): deploys are refused until released")
    .addOption(new Option("-m, --message <text>", "why"))
    .action(lazy(() => import("./commands/deploy.ts"), "lockAcquire"));
  lock
    .command("release")
    .description("remove the lock, whoever holds it")
    .action(lazy(() => import("./commands/deploy.ts"), "lockRelease"));

  return program;
}

/** Wraps a command module's export so it is imported only when the command runs. */
function lazy<M extends Record<string, unknown>>(
  load: () => Promise<M>,
  name: keyof M & string,
): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const command = args.at(-1) as Command;
    const flags = command.optsWithGlobals<GlobalFlags & Record<string, unknown>>();
    const positional = command.args;
    const module = await load();
    const action = module[name] as Action;
    const code = await action(createContext(flags), command.opts(), positional);
    if (code !== undefined) process.exitCode = code;
  };
}

function reportError(error: unknown, flags: GlobalFlags): number {
  if (error instanceof CommanderError) {
    // Help and version are "errors" to commander; they already printed what they had to.
    if (error.code === "commander.helpDisplayed" || error.code === "commander.version") {
      return ExitCode.ok;
    }
    if (error.code === "commander.help") return ExitCode.ok;
    return ExitCode.usage;
  }
  const json = flags.json ?? false;
  if (error instanceof ConfigError) {
    if (json) {
      printJson({ ok: false, errors: error.issues });
    } else {
      const count = error.issues.length;
      for (const issue of error.issues) process.stderr.write(`${formatConfigIssue(issue)}\n`);
      process.stderr.write(`${count} problem${count === 1 ? "" : "s"} found.\n`);
    }
    return error.exitCode;
  }
  if (error instanceof SlipwayError) {
    if (json) {
      printJson({
        ok: false,
        error: { code: error.code, message: error.message, hint: error.hint },
      });
    } else {
      writeRedacted(`error: ${error.message}\n`);
      if (error.hint) writeRedacted(`hint: ${error.hint}\n`);
      if (flags.verbose && error.stack) writeRedacted(`${error.stack}\n`);
    }
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  if (json) {
    printJson({ ok: false, error: { code: "bug", message, hint: "This is a bug in Slipway." } });
  } else {
    writeRedacted(`error: ${message}\n`);
    writeRedacted(
      flags.verbose && error instanceof Error && error.stack
        ? `${error.stack}\n`
        : "hint: this looks like a bug in Slipway; run again with --verbose and report the output.\n",
    );
  }
  return ExitCode.failure;
}

function printJson(value: unknown): void {
  process.stdout.write(`${redactor.redact(JSON.stringify(value, null, 2))}\n`);
}

function writeRedacted(text: string): void {
  process.stderr.write(redactor.redact(text));
}
