/**
 * The write API's routes (token-protected like the rest of /api): GET /api/settings, and PUT,
 * PATCH, DELETE /api/checks/NAME (NAME may hold its "/": /api/checks/hello/web). A change runs at
 * once and is kept in the store, so a restarted agent runs it too.
 */
import type { Agent } from "./agent.ts";
import type { AgentConfig, CheckConfig } from "./config.ts";
import {
  checkFromBody,
  effectiveChecks,
  patchCheck,
  SettingsError,
  settingsView,
} from "./settings.ts";
import type { Store } from "./store.ts";

export interface SettingsContext {
  agent: Agent;
  store: Store;
  /** The configuration from the files, without overrides. */
  config: AgentConfig;
}

export interface Answer {
  status: number;
  value: unknown;
}

/** The answer to a settings route; undefined when the route is not one of them. */
export async function answerSettings(
  method: string,
  pathname: string,
  readBody: () => Promise<Record<string, unknown>>,
  context: SettingsContext,
): Promise<Answer | undefined> {
  if (method === "GET" && pathname === "/api/settings") {
    return { status: 200, value: settingsView(context.config, context.store.overrides()) };
  }
  if (!pathname.startsWith("/api/checks/")) return undefined;
  let name: string;
  try {
    name = decodeURIComponent(pathname.slice("/api/checks/".length));
  } catch {
    return { status: 400, value: { error: "the check's name in the path is not valid" } };
  }
  if (name === "") return undefined;
  try {
    switch (method) {
      case "PUT":
        return put(context, name, await body(readBody));
      case "PATCH":
        return patch(context, name, await body(readBody));
      case "DELETE":
        return remove(context, name);
      default:
        return undefined;
    }
  } catch (error) {
    if (!(error instanceof SettingsError)) throw error;
    return { status: error.status, value: { error: error.message, issues: error.issues } };
  }
}

async function body(
  readBody: () => Promise<Record<string, unknown>>,
): Promise<Record<string, unknown>> {
  try {
    return await readBody();
  } catch (error) {
    throw new SettingsError(400, `the body is not JSON: ${(error as Error).message}`);
  }
}

function current(context: SettingsContext, name: string): CheckConfig | undefined {
  return effectiveChecks(context.config.checks, context.store.overrides()).find(
    (c) => c.name === name,
  );
}

function apply(context: SettingsContext, check: CheckConfig, status: number): Answer {
  context.store.saveOverride(check, Date.now());
  context.agent.setCheck(check);
  return { status, value: check };
}

function put(context: SettingsContext, name: string, data: Record<string, unknown>): Answer {
  const check = checkFromBody(name, data, context.config.notifiers);
  return apply(context, check, current(context, name) === undefined ? 201 : 200);
}

function patch(context: SettingsContext, name: string, data: Record<string, unknown>): Answer {
  const before = current(context, name);
  if (before === undefined) throw new SettingsError(404, `no check ${name}`);
  return apply(context, patchCheck(before, data), 200);
}

/**
 * Deletes the API's version of a check: an added check stops, an overridden one runs as its file
 * says again. A check only the files define stays (it would come back at the next install).
 */
function remove(context: SettingsContext, name: string): Answer {
  const file = context.config.checks.find((c) => c.name === name);
  if (!context.store.deleteOverride(name)) {
    if (file === undefined) throw new SettingsError(404, `no check ${name}`);
    throw new SettingsError(409, `${name} comes from the configuration files, not the API`, [
      'pause it instead (PATCH with {"paused": true}), or remove it from slipway.yml',
    ]);
  }
  if (file === undefined) {
    context.agent.removeCheck(name);
    return { status: 200, value: { deleted: name } };
  }
  context.agent.setCheck(file);
  return { status: 200, value: { restored: name, check: file } };
}
