/**
 * Pruning old releases, shared by the deploy (after each release, one role) and `slipway prune`
 * (every role and the site's one-off containers): one planner, so both keep the same things.
 */
export { applyPrune, type PruneScope, readPruneFacts } from "./host.ts";
export {
  isEmptyPrune,
  type OtherSite,
  type PruneFacts,
  type PrunePlan,
  parseEnvFileName,
  planPrune,
  pruneSteps,
} from "./plan.ts";
