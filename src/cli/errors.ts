/**
 * The CLI's single error printer. A HermesError is the user's or the environment's problem:
 * one line of what went wrong, one of how to fix it, no stack. AWS and network errors are
 * translated by type and code here, at the edge. Anything else is a bug: a short line, and the
 * stack with --debug.
 */
import { HermesError, InvalidInputError, UsageError, unreachableCode } from '../core/errors.js';
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

/** An AWS or network error translated at the edge; `code` is what --json reports for it. */
class ExplainedError extends HermesError {
  override name = 'ExplainedError';
  constructor(
    readonly code: string,
    message: string,
    options: { hint?: string; cause?: unknown },
  ) {
    super(message, options);
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
  switch (e?.name) {
    case 'CredentialsProviderError':
      return explained('no_credentials', 'No AWS credentials were found.',
        'Run `aws configure` or `aws sso login`, set AWS_PROFILE or pass --profile; for the local stack use --stage local.');
    case 'ExpiredToken':
    case 'ExpiredTokenException':
    case 'TokenRefreshRequired':
      return explained('expired_credentials', 'Your AWS credentials have expired.', 'Refresh them (for example `aws sso login`) and try again.');
    case 'UnrecognizedClientException':
    case 'InvalidClientTokenId':
    case 'InvalidSignatureException':
    case 'SignatureDoesNotMatch':
      return explained('bad_credentials', `AWS rejected the credentials (${e.name}).`, 'Check the profile or access keys in use, and the region.');
    case 'AccessDeniedException':
    case 'AccessDenied':
      return explained('access_denied', `Access denied: ${e.message}`, 'The identity in use lacks this permission; see the README for the IAM permissions hermes needs.');
    case 'ResourceNotFoundException':
    case 'QueueDoesNotExist':
    case 'AWS.SimpleQueueService.NonExistentQueue':
      return explained('resource_not_found', `A resource of this stage does not exist: ${e.message}`,
        'Was the stage deployed (`hermes deploy --stage …`), or is the local stack (`hermes dev`) running with the same --state-dir?');
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
  if (debug && err instanceof Error && err.stack) lines.push(color.dim(err.stack));
  return { text: lines.join('\n'), exitCode: known?.exitCode ?? 1 };
}
