export { applySteps, type StepOutcome } from "./apply.ts";
export {
  type EnsureStep,
  ensure,
  type RunStep,
  run,
  type Step,
  type UploadStep,
  upload,
} from "./step.ts";
