/**
 * Glue between commander and a command's `run`: build the context, run, print the result
 * (JSON on stdout with --json, human text otherwise), and turn errors into exit codes. Only
 * main.ts exits the process.
 *
 * With --json, stdout carries only JSON: the result as one document, or, for the verbs that
 * stream (dev, listen), one compact object per line that they print themselves; a failure is
 * one compact `{"error": {...}}` line (so it ends a stream as valid NDJSON too) while the human
 * text of the error still goes to stderr.
 */
import type { Command } from 'commander';
import { colorsFor, createContext, type CliContext, type GlobalOptions, type Io } from './context.js';
import { errorJson, formatError } from './errors.js';

export interface CommandResult {
  /** What --json prints. */
  data?: unknown;
  /** What a person sees on stdout. */
  text?: string;
  exitCode?: number;
}

export type Run<A extends unknown[] = unknown[]> = (ctx: CliContext, ...args: A) => Promise<CommandResult | void>;

export interface RunnerState {
  io: Io;
  signal: AbortSignal;
  exitCode: number;
}

export function makeAction(state: RunnerState, run: (ctx: CliContext, args: unknown[], opts: Record<string, unknown>) => Promise<CommandResult | void>) {
  return async (...argv: unknown[]) => {
    const cmd = argv[argv.length - 1] as Command;
    const opts = cmd.optsWithGlobals() as GlobalOptions & Record<string, unknown>;
    const positional = argv.slice(0, -2);
    const ctx = createContext(opts, state.io, state.signal, await colorsFor(opts, state.io));
    try {
      const result = await run(ctx, positional, opts);
      if (result) {
        if (ctx.json) {
          if (result.data !== undefined) ctx.out(JSON.stringify(result.data, null, 2));
        } else if (result.text !== undefined && result.text !== '') {
          ctx.out(result.text);
        }
        state.exitCode = result.exitCode ?? 0;
      }
    } catch (err) {
      if (state.signal.aborted && (err as Error)?.name === 'AbortPromptError') {
        state.exitCode = 130;
        return;
      }
      const { text, exitCode } = formatError(err, Boolean(opts.debug), ctx.c, state.io.env);
      state.io.stderr.write(`${text}\n`);
      if (ctx.json) ctx.out(JSON.stringify(errorJson(err, Boolean(opts.debug), state.io.env)));
      state.exitCode = exitCode;
    }
  };
}

/** How a verb's module declares its command and flags on the program (src/cli/commands/index.ts lists them). */
export type Register = (program: Command, action: (run: Parameters<typeof makeAction>[1]) => (...args: unknown[]) => Promise<void>) => void;
