/**
 * Run the hermes CLI in-process, as bin/hermes does, with captured stdout/stderr, a given
 * environment and working directory, and standard input from a string or a writable pipe.
 * Every wait is bounded; a run that outlives its bound is interrupted (like Ctrl-C) and fails.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { runCli } from '../../src/cli/main.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** The whole environment the CLI sees (the test process's own is not passed through). */
  env?: Record<string, string | undefined>;
  /** Default: an empty temporary directory, so no project config or .hermes dir leaks in. */
  cwd?: string;
  /** A string (ended at once), 'pipe' (write with `running.stdin`), or a stream. Default: empty. */
  stdin?: string | 'pipe' | Readable;
  /** Pretend standard input is a terminal (nothing piped). */
  stdinIsTTY?: boolean;
  /** Pretend standard output is a terminal (colours stay off unless env allows them). */
  isTTY?: boolean;
  /** Bound for `cli()` and `done`; the run is interrupted then. Default 30 s. */
  timeoutMs?: number;
}

export interface RunningCli {
  stdout(): string;
  stderr(): string;
  /** Standard input when started with `stdin: 'pipe'`. */
  stdin: PassThrough;
  /** Wait (bounded) until the stream's text matches. */
  waitFor(stream: 'stdout' | 'stderr', pattern: RegExp | string, timeoutMs?: number): Promise<string>;
  /** Like Ctrl-C: aborts the signal the CLI got. */
  interrupt(): void;
  done: Promise<CliResult>;
}

let defaultCwd: string | undefined;

class Capture extends Writable {
  text = '';
  private readonly watchers = new Set<() => void>();
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    this.watchers.forEach((l) => l());
    cb();
  }
  onChange(l: () => void): () => void {
    this.watchers.add(l);
    return () => this.watchers.delete(l);
  }
}

export function startCli(argv: string[], opts: CliOptions = {}): RunningCli {
  const stdout = new Capture();
  const stderr = new Capture();
  const pipe = new PassThrough();
  let stdin: Readable;
  if (opts.stdin === 'pipe') stdin = pipe;
  else if (opts.stdin instanceof Readable) stdin = opts.stdin;
  else stdin = Readable.from(opts.stdin ? [Buffer.from(opts.stdin)] : []);
  if (opts.stdinIsTTY) Object.assign(stdin, { isTTY: true });
  const controller = new AbortController();
  defaultCwd ??= mkdtempSync(path.join(tmpdir(), 'hermes-cli-cwd-'));
  const timeoutMs = opts.timeoutMs ?? 30_000;

  const run = runCli(
    argv,
    {
      stdout,
      stderr,
      stdin,
      env: opts.env ?? {},
      cwd: opts.cwd ?? defaultCwd,
      isTTY: Boolean(opts.isTTY),
    },
    controller.signal,
  );
  const done = new Promise<CliResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      controller.abort();
      reject(new Error(`hermes ${argv.join(' ')} did not finish within ${timeoutMs} ms\nstdout: ${stdout.text}\nstderr: ${stderr.text}`));
    }, timeoutMs);
    run.then(
      (code) => {
        clearTimeout(timer);
        resolve({ code, stdout: stdout.text, stderr: stderr.text });
      },
      (err) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
  // A rejection nobody awaited yet must not crash the test run before the test reads `done`.
  done.catch(() => undefined);

  return {
    stdout: () => stdout.text,
    stderr: () => stderr.text,
    stdin: pipe,
    interrupt: () => controller.abort(),
    done,
    waitFor(stream, pattern, waitMs = 15_000) {
      const cap = stream === 'stdout' ? stdout : stderr;
      const matches = () => (typeof pattern === 'string' ? cap.text.includes(pattern) : pattern.test(cap.text));
      return new Promise<string>((resolve, reject) => {
        if (matches()) return resolve(cap.text);
        let off = () => {};
        const timer = setTimeout(() => {
          off();
          reject(new Error(`timed out after ${waitMs} ms waiting for ${pattern} on ${stream}\nstdout: ${stdout.text}\nstderr: ${stderr.text}`));
        }, waitMs);
        const check = () => {
          if (!matches()) return;
          clearTimeout(timer);
          off();
          resolve(cap.text);
        };
        off = cap.onChange(check);
        // The run may end without ever matching: fail fast instead of waiting for the bound.
        void done.then(
          () => setImmediate(() => {
            if (matches()) return;
            clearTimeout(timer);
            off();
            reject(new Error(`hermes exited before ${pattern} appeared on ${stream}\nstdout: ${stdout.text}\nstderr: ${stderr.text}`));
          }),
          () => undefined,
        );
      });
    },
  };
}

/** Run the CLI to completion and return its exit code and output. */
export function cli(argv: string[], opts: CliOptions = {}): Promise<CliResult> {
  return startCli(argv, opts).done;
}

export interface CliStack {
  /** The real local stack, in-process on free ports (see test/helpers/stack.ts). */
  stack: import('../../src/local/stack.js').LocalStack;
  /** A temporary state dir holding the stack's record, as `hermes dev` writes it. */
  stateDir: string;
  /** Environment for the CLI: cheap bcrypt so tests stay fast. */
  env: Record<string, string>;
  /** `hermes --state-dir <stateDir> …` */
  run(argv: string[], opts?: CliOptions): Promise<CliResult>;
  start(argv: string[], opts?: CliOptions): RunningCli;
  close(): Promise<void>;
}

/**
 * The local stack plus a state dir recording it, so the CLI finds its endpoints, queue and
 * secret exactly as it finds a `hermes dev` stack. Heavy modules load only when this is called.
 */
export async function startCliStack(opts: import('../../src/local/stack.js').LocalStackOptions = {}): Promise<CliStack> {
  const { startTestStack } = await import('./stack.js');
  const { writeStageRecord } = await import('../../src/config/stage-record.js');
  const { localStageRecord } = await import('../../src/local/state.js');
  const { rmSync } = await import('node:fs');
  const stack = await startTestStack(opts);
  const stateDir = mkdtempSync(path.join(tmpdir(), 'hermes-cli-state-'));
  writeStageRecord(stateDir, localStageRecord(stack));
  const env = { HERMES_BCRYPT_COST: '4' };
  const withDir = (argv: string[]) => ['--state-dir', stateDir, ...argv];
  return {
    stack,
    stateDir,
    env,
    run: (argv, o = {}) => cli(withDir(argv), { env, ...o }),
    start: (argv, o = {}) => startCli(withDir(argv), { env, ...o }),
    async close() {
      await stack.close();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
