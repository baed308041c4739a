// The workflow library: DAGs of stages that run against any Orla gateway with the `openai` client.
export { Workflow } from './workflow.js';
export { WorkflowDefinitionError, type Dag } from './dag.js';
export type { RunOptions } from './run.js';
export type { StageInfo, WorkflowEvent, WorkflowEventListener } from './events.js';
export { tagHeaders, readGatewayReport, completeRun, type CallTags, type GatewayReport } from './wire.js';
export type {
  CacheHint,
  CallRecord,
  ChatMessage,
  Completion,
  FromContext,
  JsonSchema,
  RunResult,
  RunStatus,
  StageContext,
  StageError,
  StageErrorKind,
  StageMap,
  StageOutcome,
  StageSpec,
  StageStatus,
  Tokens,
  Tool,
  ToolCallRecord,
  ToolChoice,
  ToolContext,
} from './types.js';
