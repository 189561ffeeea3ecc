// The planner's public surface for the app, the engine and the CLIs.
export { planModel, chooseCompute, DEFAULT_CONTEXT_TOKENS } from './planner.ts';
export { planJson, type PlanJson } from './contract.ts';
export {
  budgetReport,
  DEFAULT_MARGIN,
  estimateBudget,
  marginBytes,
  NO_MARGIN,
  type BudgetInputs,
} from './budget.ts';
export {
  describeAdapter,
  figuresFromCalibration,
  lowerBudget,
  parseDeviceFile,
  withUserBudget,
  type AdapterFacts,
  type DeviceFigures,
} from './device.ts';
export { tensorsOnLoad, typeOnLoad } from './engine-sizes.ts';
export {
  chooseEngine,
  cpuThreads,
  predictCpu,
  withEngineChoice,
  WASM32_ADDRESS_SPACE,
  WASM64_ADDRESS_SPACE,
  type CpuDescription,
  type CpuPrediction,
} from './cpu.ts';
export type * from './types.ts';
