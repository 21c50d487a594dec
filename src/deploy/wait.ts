/**
 * Bounded waiting: AWS needs time after some calls (a table becoming ACTIVE, a function
 * leaving Pending, a new IAM role becoming assumable by Lambda). Every wait has a deadline and
 * fails with a message that says what it waited for.
 */
import { HermesError } from '../core/errors.js';
import { awsErrorName } from './aws.js';

export interface WaitOptions {
  /** Milliseconds between polls (tests set it low). */
  intervalMs: number;
  /** Give up after this long. */
  timeoutMs: number;
  signal?: AbortSignal;
}

export const DEFAULT_WAIT: WaitOptions = { intervalMs: 2_000, timeoutMs: 300_000 };

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), reject(signal.reason)), { once: true });
  });

/** Poll `probe` until it returns a value other than undefined. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, opts: WaitOptions): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) {
      throw new HermesError(`Timed out after ${Math.round(opts.timeoutMs / 1000)} s waiting for ${what}.`, {
        hint: 'AWS is slower than usual or the resource is stuck; check it in the console, then run deploy again.',
      });
    }
    await sleep(opts.intervalMs, opts.signal);
  }
}

/**
 * Retry `fn` while it fails with one of `retryOn` (AWS error names), with backoff, until the
 * deadline. Used where AWS is eventually consistent: a role created seconds ago is not yet
 * assumable by Lambda ("The role defined for the function cannot be assumed by Lambda").
 */
export async function retryWhile<T>(fn: () => Promise<T>, retryOn: (err: unknown) => boolean, opts: WaitOptions): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let delay = opts.intervalMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (!retryOn(err) || Date.now() + delay > deadline) throw err;
      await sleep(delay, opts.signal);
      delay = Math.min(delay * 2, 10_000);
    }
  }
}

/** IAM role propagation: Lambda rejects a brand-new role with InvalidParameterValueException. */
export function isRolePropagation(err: unknown): boolean {
  return awsErrorName(err) === 'InvalidParameterValueException' && /role|assume/i.test((err as Error).message);
}

/** A function update is still in progress (Lambda allows one at a time). */
export function isUpdateInProgress(err: unknown): boolean {
  return awsErrorName(err) === 'ResourceConflictException';
}
