/**
 * Lambda, locally: the handler bundles that `hermes deploy` uploads (dist/lambdas/<name>/
 * index.mjs), each run by a pool of instances that behave like Lambda execution environments:
 *
 * - an instance is a worker thread (src/local/lambda-worker.ts) running one invocation at a time,
 *   so CPU-heavy work (bcrypt in the authorizer) runs on every core, as separate Lambda instances
 *   have their own CPU, instead of all handshakes of a storm sharing one thread;
 * - a function has at most `concurrency` instances (default: one per core); further invocations
 *   wait in a FIFO queue, as throttled events would be retried, instead of all starting at once
 *   and timing out together;
 * - the timeout counts from the moment an instance takes the invocation, and a timed-out
 *   invocation is really abandoned: its instance is terminated (its sockets die with it) and a
 *   fresh one takes its place, as Lambda resets a sandbox after a timeout;
 * - the environment a function would get on AWS is handed to `createHandler(env, overrides)`
 *   instead of read from process.env, and its JSON log lines come back to the `logger` given
 *   here instead of stdout, so several stacks can share a process.
 *
 * Instances start on first use (a cold start), or one ahead of it with `warm()`, and stay warm;
 * `close()` waits for the running invocations (bounded) and ends them.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Env } from '../core/handler-env.js';
import type { HandlerName } from '../stack/definition.js';
import type { LineLogger } from '../core/handler-log.js';
import { HermesError } from '../core/errors.js';
import type { InvokeMessage, WorkerData, WorkerReply } from './lambda-worker.js';

/** This file is src/local/*.ts in a checkout and dist/chunks/*.mjs once bundled: two levels below the root either way. */
const DIST_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist');
export const DEFAULT_BUNDLE_DIR = path.join(DIST_DIR, 'lambdas');
const WORKER_FILE = path.join(DIST_DIR, 'local/lambda-worker.mjs');

/** One instance per core: more would only share the same CPUs. */
export const DEFAULT_CONCURRENCY = Math.max(2, availableParallelism());

const YOUNG_GENERATION_MB = 16;

export interface InvokeOptions {
  /** Aborting drops an invocation still waiting for an instance; one already running goes on, as on AWS. */
  signal?: AbortSignal;
}

export interface LocalFunction {
  name: string;
  /** Its configuration, as GetFunctionConfiguration would report it. */
  config: { timeoutMs: number; memoryMb: number; concurrency: number; env: Readonly<Env> };
  invoke(event: unknown, opts?: InvokeOptions): Promise<unknown>;
  stats(): { instances: number; running: number; queued: number; timedOut: number };
  /** Starts one instance ahead of the first invocation (a provisioned instance), if none runs. */
  warm(): void;
  /**
   * Load the bundle again, as a new version (`hermes dev` after a rebuild): once an instance of
   * it has loaded, the next invocations run it and the ones already running finish on the old
   * instances, which then go. A bundle that fails to load rejects, and the old one keeps serving.
   * `version` names the new contents.
   */
  reload(version: string): Promise<void>;
  /** Stops taking invocations, waits up to `graceMs` for the running ones, then ends every instance. */
  close(graceMs?: number): Promise<void>;
}

export class LambdaTimeoutError extends Error {
  override name = 'Sandbox.Timedout';
}

/** The function was closed (the stack is stopping) before the invocation could run. */
export class LambdaClosedError extends Error {
  override name = 'LambdaClosedError';
}

export interface LoadFunctionOptions {
  functionName: string;
  bundleDir?: string;
  env: Env;
  logger: LineLogger;
  timeoutMs: number;
  memoryMb?: number;
  region: string;
  /** Most instances at once; default DEFAULT_CONCURRENCY. */
  concurrency?: number;
}

export async function loadFunction(handler: HandlerName, opts: LoadFunctionOptions): Promise<LocalFunction> {
  const file = path.join(opts.bundleDir ?? DEFAULT_BUNDLE_DIR, handler, 'index.mjs');
  for (const f of [file, WORKER_FILE]) {
    if (!existsSync(f)) throw new HermesError(`The Lambda bundle ${f} is missing.`, { hint: 'Run `npm run build` (npm ci runs it too).' });
  }
  return new FunctionPool(file, opts);
}

interface Pending {
  event: unknown;
  resolve(value: unknown): void;
  reject(err: Error): void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

interface Running extends Pending {
  id: number;
  timer: NodeJS.Timeout;
}

class Instance {
  running?: Running;
  readonly ready: Promise<void>;

  constructor(
    /** Which load of the bundle it runs (reload() starts a new one). */
    readonly generation: number,
    readonly worker: Worker,
    onReply: (instance: Instance, reply: WorkerReply) => void,
    onFailure: (instance: Instance, err: Error) => void,
  ) {
    this.ready = new Promise((resolve, reject) => {
      worker.on('message', (m: WorkerReply) => {
        if ('ready' in m) resolve();
        else onReply(this, m);
      });
      worker.on('error', (err) => {
        reject(err);
        onFailure(this, err);
      });
      worker.on('exit', (code) => {
        const err = new Error(`the instance exited (code ${code})`);
        reject(err);
        onFailure(this, err);
      });
    });
    this.ready.catch(() => {});
  }
}

class FunctionPool implements LocalFunction {
  readonly name: string;
  readonly config: LocalFunction['config'];
  private readonly instances = new Set<Instance>();
  private readonly idle: Instance[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private timedOut = 0;
  private generation = 0;
  private closed = false;
  private readonly drained = new Set<() => void>();

  constructor(
    private readonly file: string,
    private readonly opts: LoadFunctionOptions,
  ) {
    this.name = opts.functionName;
    this.config = {
      timeoutMs: opts.timeoutMs,
      memoryMb: opts.memoryMb ?? 256,
      concurrency: Math.max(1, opts.concurrency ?? DEFAULT_CONCURRENCY),
      env: { ...opts.env },
    };
  }

  invoke(event: unknown, opts: InvokeOptions = {}): Promise<unknown> {
    if (this.closed) return Promise.reject(new LambdaClosedError(`${this.name} is stopped`));
    return new Promise((resolve, reject) => {
      const p: Pending = { event, resolve, reject, signal: opts.signal };
      if (opts.signal) {
        if (opts.signal.aborted) return reject(abortError(opts.signal));
        p.onAbort = () => {
          const at = this.queue.indexOf(p);
          if (at >= 0) {
            this.queue.splice(at, 1);
            reject(abortError(opts.signal!));
          }
        };
        opts.signal.addEventListener('abort', p.onAbort, { once: true });
      }
      this.queue.push(p);
      this.dispatch();
    });
  }

  stats() {
    let running = 0;
    for (const i of this.instances) if (i.running) running++;
    return { instances: this.instances.size, running, queued: this.queue.length, timedOut: this.timedOut };
  }

  warm(): void {
    if (this.closed || this.instances.size > 0) return;
    const instance = this.spawn();
    instance.worker.unref();
    this.idle.push(instance);
  }

  async reload(version: string): Promise<void> {
    if (this.closed) throw new LambdaClosedError(`${this.name} is stopped`);
    const generation = this.generation + 1;
    const fresh = this.spawn(generation);
    fresh.worker.unref();
    try {
      await fresh.ready;
    } catch (err) {
      throw new Error(`version ${version} of ${this.name} did not load: ${(err as Error).message}`);
    }
    this.generation = generation;
    // Idle instances of the old code go now; running ones when their invocation ends (release).
    for (const old of this.idle.splice(0)) {
      this.discard(old);
      void old.worker.terminate().catch(() => undefined);
    }
    this.idle.push(fresh);
    this.dispatch();
  }

  async close(graceMs = 5000): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) this.settle(p, () => p.reject(new LambdaClosedError(`${this.name} stopped before this invocation ran`)));
    if (this.stats().running > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.drained.delete(done);
          resolve();
        };
        this.drained.add(done);
        timer = setTimeout(done, graceMs);
      });
    }
    const all = [...this.instances];
    for (const i of all) {
      if (i.running) this.finish(i, () => i.running!.reject(new LambdaClosedError(`${this.name} stopped while this invocation ran`)));
    }
    this.instances.clear();
    this.idle.length = 0;
    await Promise.all(all.map((i) => i.worker.terminate().catch(() => undefined)));
  }

  private dispatch(): void {
    while (this.queue.length) {
      let instance = this.idle.pop();
      if (!instance) {
        if (this.instances.size >= this.config.concurrency) return;
        instance = this.spawn();
      }
      this.start(instance, this.queue.shift()!);
    }
  }

  private spawn(generation = this.generation): Instance {
    const data: WorkerData = { file: this.file, env: this.opts.env };
    // A worker thread gets a 4 MB stack by default; a Lambda function runs on Node's main
    // thread with about 1 MB, so recursion that overflows on AWS must overflow here too.
    // A young generation of 16 MB instead of V8's up to 48 MB per isolate: with an isolate per
    // instance, those would make most of the stack's memory and its swings.
    const worker = new Worker(WORKER_FILE, { workerData: data, resourceLimits: { stackSizeMb: 1, maxYoungGenerationSizeMb: YOUNG_GENERATION_MB } });
    const instance = new Instance(
      generation,
      worker,
      (i, reply) => this.onReply(i, reply),
      (i, err) => this.onFailure(i, err),
    );
    this.instances.add(instance);
    return instance;
  }

  private start(instance: Instance, p: Pending): void {
    const id = this.nextId++;
    // From here the invocation runs; the queue's abort no longer applies.
    if (p.onAbort) p.signal?.removeEventListener('abort', p.onAbort);
    const timer = setTimeout(() => this.onTimeout(instance), this.opts.timeoutMs);
    instance.running = { ...p, id, timer };
    instance.worker.ref();
    const message: InvokeMessage = {
      id,
      event: p.event,
      context: {
        functionName: this.name,
        memoryLimitInMB: String(this.config.memoryMb),
        invokedFunctionArn: `arn:aws:lambda:${this.opts.region}:123456789012:function:${this.name}`,
        awsRequestId: randomUUID(),
        deadline: Date.now() + this.opts.timeoutMs,
      },
    };
    instance.ready.then(
      () => {
        if (instance.running?.id !== id) return;
        try {
          instance.worker.postMessage(message);
        } catch (err) {
          // The event cannot be cloned to the instance: Lambda would refuse such a payload too.
          this.finish(instance, () => instance.running!.reject(new Error(`Could not pass the event to ${this.name}: ${(err as Error).message}`)));
          this.release(instance);
        }
      },
      () => undefined, // onFailure rejects the invocation
    );
  }

  private onReply(instance: Instance, reply: WorkerReply): void {
    if ('ready' in reply) return;
    if ('log' in reply) {
      this.opts.logger[reply.log](reply.line);
      return;
    }
    const run = instance.running;
    if (!run || run.id !== reply.id) return;
    if (reply.ok) this.finish(instance, () => run.resolve(reply.result));
    else this.finish(instance, () => run.reject(Object.assign(new Error(reply.error.message), { name: reply.error.name, stack: reply.error.stack })));
    this.release(instance);
  }

  private onTimeout(instance: Instance): void {
    const run = instance.running;
    if (!run) return;
    this.timedOut++;
    const seconds = (this.opts.timeoutMs / 1000).toFixed(2);
    this.finish(instance, () => run.reject(new LambdaTimeoutError(`Task timed out after ${seconds} seconds`)));
    // Nothing of the abandoned invocation may go on: the instance goes, its sockets with it.
    this.discard(instance);
    void instance.worker.terminate().catch(() => undefined);
    this.dispatch();
  }

  private onFailure(instance: Instance, err: Error): void {
    if (!this.instances.has(instance)) return;
    const run = instance.running;
    if (run) this.finish(instance, () => run.reject(Object.assign(new Error(`Runtime exited: ${err.message}`), { name: 'Runtime.ExitError' })));
    this.discard(instance);
    if (!this.closed) this.dispatch();
  }

  /** Ends the running invocation's bookkeeping and runs `settle` (resolve or reject) once. */
  private finish(instance: Instance, settle: () => void): void {
    const run = instance.running;
    if (!run) return;
    clearTimeout(run.timer);
    instance.running = undefined;
    // A warm instance waiting for work does not keep the process alive; the caller's pending promise does.
    instance.worker.unref();
    settle();
    if (this.stats().running === 0) for (const d of [...this.drained]) d();
  }

  private settle(p: Pending, settle: () => void): void {
    if (p.onAbort) p.signal?.removeEventListener('abort', p.onAbort);
    settle();
  }

  private release(instance: Instance): void {
    if (!this.instances.has(instance)) return;
    if (this.closed) return;
    if (instance.generation !== this.generation) {
      // It ran the code before a reload: it finished its invocation and goes.
      this.discard(instance);
      void instance.worker.terminate().catch(() => undefined);
      this.dispatch();
      return;
    }
    this.idle.push(instance);
    this.dispatch();
  }

  private discard(instance: Instance): void {
    this.instances.delete(instance);
    const at = this.idle.indexOf(instance);
    if (at >= 0) this.idle.splice(at, 1);
  }
}

function abortError(signal: AbortSignal): Error {
  const reason = signal.reason;
  return reason instanceof Error ? reason : Object.assign(new Error('The invocation was abandoned before it ran'), { name: 'AbortError' });
}
