/**
 * The CLI's single error printer. A HermesError is the user's or the environment's problem:
 * one line of what went wrong, one of how to fix it, no stack. AWS and network errors are
 * translated by type and code here, at the edge. Anything else is a bug: a short line, and the
 * stack with --debug.
 */
import { HermesError, InvalidInputError, UsageError, unreachableCode } from '../core/errors.js';
import { failedCall, failureText, isAwsCallError } from '../core/aws-failure.js';
import { awsErrorKind } from '../core/aws-error-kind.js';
import { runnable } from '../config/invocation.js';

type Env = Record<string, string | undefined>;

interface AwsLikeError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  cause?: unknown;
  errors?: unknown[];
}

/**
 * An AWS or network error translated at the edge; `code` is what --json reports for it. An
 * AWS call's failure also carries the call (service, operation), the HTTP status, AWS's own
 * code and the request id as fields (core/aws-failure.ts), which --json reports too.
 */
class ExplainedError extends HermesError {
  override name = 'ExplainedError';
  service?: string;
  operation?: string;
  httpStatus?: number;
  awsCode?: string;
  requestId?: string;
  endpoint?: string;
  notAws?: boolean;
  declare readonly responseHead?: string;
  constructor(
    readonly code: string,
    message: string,
    options: { hint?: string; cause?: unknown },
  ) {
    super(message, options);
    if (!isAwsCallError(options.cause)) return;
    const f = failedCall(options.cause);
    for (const k of ['service', 'operation', 'httpStatus', 'awsCode', 'requestId', 'endpoint'] as const) if (f[k] !== undefined) (this as Record<string, unknown>)[k] = f[k];
    if (f.notAws) this.notAws = true;
    Object.defineProperty(this, 'responseHead', { value: f.responseHead, enumerable: false });
  }

  debugDetails(): string[] {
    if (!this.httpStatus) return [];
    return [`request id: ${this.requestId ?? '(none in the response)'}`, ...(this.responseHead ? [`response: ${this.responseHead}`] : [])];
  }
}

/** Translate an error into a HermesError when we know what it means for the user. */
export function explain(err: unknown): HermesError | undefined {
  if (err instanceof HermesError) return err;
  const e = err as AwsLikeError;
  const net = unreachableCode(err);
  const explained = (code: string, message: string, hint: string) => new ExplainedError(code, message, { hint, cause: err });
  if (net) {
    return explained('unreachable', `Cannot reach the endpoint (${net}): ${e.message ?? ''}`.trim(),
      'Is `hermes dev` running (or the stage deployed)? Check --endpoint-url, --region and your network.');
  }
  switch (awsErrorKind(err)) {
    case 'no_credentials':
      return explained('no_credentials', 'No AWS credentials were found.',
        'Run `aws configure` or `aws sso login`, set AWS_PROFILE or pass --profile; for the local stack use --stage local.');
    case 'expired_credentials':
      return explained('expired_credentials', 'Your AWS credentials have expired.', 'Refresh them (for example `aws sso login`) and try again.');
    case 'bad_credentials':
      return explained('bad_credentials', `AWS rejected the credentials (${e.name}).`, 'Check the profile or access keys in use, and the region.');
    case 'access_denied':
      return explained('access_denied', `Access denied: ${e.message}`, 'The identity in use lacks this permission; see the README for the IAM permissions hermes needs.');
    case 'resource_not_found':
      return explained('resource_not_found', `A resource of this stage does not exist: ${e.message}`,
        'Was the stage deployed (`hermes deploy --stage …`), or is the local stack (`hermes dev`) running with the same --state-dir?');
  }
  // Any other answer to an AWS call: what was called, and what came back (AWS's error, or a page that is not AWS's).
  if (isAwsCallError(err)) {
    const f = failedCall(err);
    const call = f.service ? `${f.service} ${f.operation}` : 'An AWS call';
    return f.notAws
      ? explained('not_aws', `${call} failed: ${failureText(err, f)}.`, 'Check --endpoint-url (or the stage record\'s endpoints) and any proxy between you and AWS.')
      : explained('aws_error', `${call} failed: ${failureText(err, f)}`, 'AWS refused the request; the message above says why. Run again with --debug for the request id.');
  }
  return undefined;
}

/**
 * The core names the input it refuses (`field`, e.g. `userId`), never a flag: only the command
 * knows which flag the value came from. `hints` maps a field to how to fix it with that flag;
 * other errors pass through unchanged.
 */
export function withFlagHint(err: unknown, hints: Partial<Record<string, string>>): unknown {
  const hint = err instanceof InvalidInputError ? hints[err.field] : undefined;
  return hint ? new UsageError((err as Error).message, { hint, cause: err }) : err;
}

const BUG_HINT = 'This looks like a bug in hermes. Run again with --debug for the stack trace, and report it.';

/**
 * The stable, machine-readable name of an error for --json: an explained AWS error's own code,
 * else the class name in snake case without "Error" (StackNotRunningError → stack_not_running);
 * "failed" for a plain HermesError, "internal" for a bug.
 */
export function errorCode(err: unknown): string {
  const known = explain(err);
  if (!known) return 'internal';
  const own = (known as { code?: unknown }).code;
  if (typeof own === 'string' && own) return own;
  if (known.name === 'HermesError') return 'failed';
  return known.name.replace(/Error$/, '').replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase() || 'failed';
}

/** Properties every error has, or that must never be printed as data. */
const NOT_FIELDS = new Set(['name', 'message', 'hint', 'exitCode', 'stack', 'cause', 'code']);

/**
 * What --json prints on a failure: `{"error": {"code", "message", "hint", ...}}`, plus the
 * structured fields the error carries (a DeployError's resource and call, a refused token's
 * reason, an invalid input's field), read from its own properties so a new field on an error
 * class shows up without touching this file.
 */
export function errorJson(err: unknown, debug = false, env: Env = {}): { error: Record<string, unknown> } {
  const known = explain(err);
  const error: Record<string, unknown> = {
    code: errorCode(err),
    message: runnable(known?.message ?? (err as Error)?.message ?? String(err), env),
  };
  if (known?.hint) error.hint = runnable(known.hint, env);
  else if (!known) error.hint = BUG_HINT;
  if (known) {
    for (const [key, value] of Object.entries(known)) {
      if (NOT_FIELDS.has(key) || value === undefined || typeof value === 'function') continue;
      if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.getPrototypeOf(value) !== Object.prototype) continue;
      error[key] = value;
    }
  }
  // The raw response head of a failed AWS call is kept off the error's fields: --debug only.
  const head = (known as { responseHead?: unknown } | undefined)?.responseHead;
  if (debug && typeof head === 'string') error.responseHead = head;
  if (debug && err instanceof Error && err.stack) error.stack = err.stack;
  return { error };
}

/**
 * The error for a person: one line, one hint, the commands in them as the user can run them
 * (`env` tells whether hermes is on their PATH).
 */
export function formatError(
  err: unknown,
  debug: boolean,
  color: { red: (s: string) => string; dim: (s: string) => string },
  env: Env = {},
): { text: string; exitCode: number } {
  const known = explain(err);
  const lines: string[] = [];
  if (known) {
    lines.push(`${color.red('error:')} ${runnable(known.message, env)}`);
    if (known.hint) lines.push(color.dim(runnable(known.hint, env)));
  } else {
    lines.push(`${color.red('error:')} ${(err as Error)?.message ?? String(err)}`);
    if (!debug) lines.push(color.dim(BUG_HINT));
  }
  // An error may know more than its one line (a DeployError: the request id, the raw response head).
  const details = (known as { debugDetails?: () => string[] } | undefined)?.debugDetails;
  if (debug && typeof details === 'function') lines.push(...details.call(known).map((l) => color.dim(l)));
  if (debug && err instanceof Error && err.stack) lines.push(color.dim(err.stack));
  return { text: lines.join('\n'), exitCode: known?.exitCode ?? 1 };
}
