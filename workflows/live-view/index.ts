// A terminal view of workflow runs, fed by their events.
export { LiveView, type LiveViewOptions, type TerminalStream } from './terminal.js';
export { Board, type DescribeResult, type RunView, type StageView, type ToolView } from './board.js';
export { renderFrame, dagLine } from './render.js';
export { renderSummary } from './summary.js';
export { eventLine } from './log.js';
