import type { WorkflowEvent, WorkflowEventListener } from '../events.js';
import { Board, type DescribeResult } from './board.js';
import { eventLine } from './log.js';
import { renderFrame } from './render.js';
import { cursor, fit, paint, type Paint } from './style.js';
import { renderSummary } from './summary.js';

// Subscribes to workflow events and shows them: on a TTY a frame redrawn in place (the cursor
// moves back up over the previous frame), elsewhere one plain line per event.

export interface TerminalStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
  rows?: number;
}

export interface LiveViewOptions {
  out: TerminalStream;
  describe?: DescribeResult;
  /** Redraw in place. Default: whether `out` is a TTY. */
  live?: boolean;
  /** Default: when live, unless NO_COLOR is set. */
  colour?: boolean;
  /** Coalesces bursts of events into one redraw. */
  redrawEveryMs?: number;
}

export class LiveView {
  readonly board: Board;
  readonly live: boolean;
  private readonly p: Paint;
  private readonly out: TerminalStream;
  private readonly redrawEveryMs: number;
  private readonly startedAt = performance.now();
  private drawn = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: LiveViewOptions) {
    this.out = options.out;
    this.board = new Board(options.describe);
    this.live = options.live ?? options.out.isTTY === true;
    this.p = paint(options.colour ?? (this.live && !process.env.NO_COLOR));
    this.redrawEveryMs = options.redrawEveryMs ?? 50;
  }

  get paint(): Paint {
    return this.p;
  }

  /** Pass as a run's `onEvent`. */
  readonly listener: WorkflowEventListener = (event: WorkflowEvent) => {
    this.board.apply(event);
    if (!this.live) {
      const line = eventLine(event, this.board, this.p, performance.now() - this.startedAt);
      if (line !== undefined) this.out.write(`${line}\n`);
      return;
    }
    this.timer ??= setTimeout(() => this.redraw(), this.redrawEveryMs);
    this.timer.unref?.();
  };

  /** Lines above the live frame (a title): written once, never redrawn. */
  note(lines: string[]): void {
    this.out.write(lines.map((l) => `${l}\n`).join(''));
  }

  /** Draws the final frame, then the summary below it. */
  finish(): void {
    if (this.live) {
      this.redraw();
      this.out.write(cursor.show);
    }
    this.drawn = 0;
    this.out.write(['', ...renderSummary(this.board, this.p, performance.now() - this.startedAt), ''].join('\n'));
  }

  redraw(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    // One column short of the width: a line that fills it exactly wraps early on some terminals.
    const width = (this.out.columns ?? 100) - 1;
    const frame = renderFrame(this.board, this.p, this.out.rows ?? 40).map((line) => fit(line, width));
    const rewind = this.drawn > 0 ? cursor.up(this.drawn) + cursor.clearBelow : cursor.hide;
    this.out.write(`${rewind}${frame.join('\n')}\n`);
    this.drawn = frame.length;
  }
}
