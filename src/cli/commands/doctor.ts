/** `slipway doctor`: a self-test of the transport against every host in slipway.yml. */
import { ExitCode, UserError } from "../../errors/index.ts";
import type { CommandContext } from "../context.ts";
import { sshSettingsFrom } from "../context.ts";

export async function doctor(
  context: CommandContext,
  options: Record<string, unknown>,
): Promise<number> {
  const loaded = await context.loadConfig();
  const { Connections } = await import("../../transport/index.ts");
  const { formatDoctorReport, runDoctor } = await import("../../doctor/index.ts");

  const all = [...new Set(Object.values(loaded.config.servers).flatMap((role) => role.hosts))];
  const wanted =
    typeof options.hosts === "string" ? options.hosts.split(",").map((h) => h.trim()) : all;
  const unknown = wanted.filter((host) => !all.includes(host));
  if (unknown.length > 0) {
    throw new UserError({
      code: "usage.unknown_host",
      message: `Not a host of ${loaded.file}: ${unknown.join(", ")}`,
      hint: `Hosts in this configuration: ${all.join(", ")}`,
      exitCode: ExitCode.usage,
    });
  }

  const connections = new Connections(sshSettingsFrom(loaded), {
    onCommand: context.reporter.command,
    onHostKeyPinned: (host, fp, file) =>
      context.reporter.info(`${host}: pinned host key ${fp} in ${file}`),
  });
  try {
    context.reporter.info(`Checking ${wanted.length} host${wanted.length === 1 ? "" : "s"}...`);
    const reports = await runDoctor({
      hosts: wanted,
      transportFor: (host) => connections.get(host),
      limit: Number(options.limit ?? 8),
    });
    const failed = reports.some((r) => r.checks.some((c) => c.status === "fail"));
    if (context.flags.json) {
      context.print(JSON.stringify({ ok: !failed, hosts: reports }, null, 2));
    } else {
      context.print(formatDoctorReport(reports));
    }
    return failed ? ExitCode.failure : ExitCode.ok;
  } finally {
    await connections.closeAll();
  }
}
