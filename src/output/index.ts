export { HostLineWriter, hostPrefixes, type LineSink } from "./host-lines.ts";
export { REDACTED, Redactor, redactor } from "./redact.ts";
export { createReporter, type Reporter, visibleControls } from "./reporter.ts";
export { formatAge, formatBytes } from "./sizes.ts";
export { table } from "./table.ts";
