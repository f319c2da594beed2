/**
 * How the agent's Node is started. Measured by bench/agent.ts (1000 HTTP checks every 30 s):
 * --lite-mode (no optimizing compiler: the agent's work is I/O, not hot loops) and a 1 MB young
 * generation take its peak memory from about 80-84 MB to 60 MB, for 1.5-1.7% of one core instead
 * of about 1.1% with the optimizing compiler. A 2 MB young generation changed neither figure.
 */
export const AGENT_NODE_FLAGS: readonly string[] = ["--lite-mode", "--max-semi-space-size=1"];
