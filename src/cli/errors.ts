/**
 * The CLI's single error printer. A HermesError is the user's or the environment's problem:
 * one line of what went wrong, one of how to fix it, no stack. AWS and network errors are
 * translated by type and code here, at the edge. Anything else is a bug: a short line, and the
 * stack with --debug.
 */
import { HermesError, InvalidInputError, UsageError, unreachableCode } from '../core/errors.js';

interface AwsLikeError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  cause?: unknown;
  errors?: unknown[];
}

/** Translate an error into a HermesError when we know what it means for the user. */
export function explain(err: unknown): HermesError | undefined {
  if (err instanceof HermesError) return err;
  const e = err as AwsLikeError;
  const net = unreachableCode(err);
  if (net) {
    return new HermesError(`Cannot reach the endpoint (${net}): ${e.message ?? ''}`.trim(), {
      hint: 'Is `hermes dev` running (or the stage deployed)? Check --endpoint-url, --region and your network.',
    });
  }
  switch (e?.name) {
    case 'CredentialsProviderError':
      return new HermesError('No AWS credentials were found.', {
        hint: 'Run `aws configure` or `aws sso login`, set AWS_PROFILE or pass --profile; for the local stack use --stage local.',
      });
    case 'ExpiredToken':
    case 'ExpiredTokenException':
    case 'TokenRefreshRequired':
      return new HermesError('Your AWS credentials have expired.', { hint: 'Refresh them (for example `aws sso login`) and try again.' });
    case 'UnrecognizedClientException':
    case 'InvalidClientTokenId':
    case 'InvalidSignatureException':
    case 'SignatureDoesNotMatch':
      return new HermesError(`AWS rejected the credentials (${e.name}).`, { hint: 'Check the profile or access keys in use, and the region.' });
    case 'AccessDeniedException':
    case 'AccessDenied':
      return new HermesError(`Access denied: ${e.message}`, { hint: 'The identity in use lacks this permission; see the README for the IAM permissions hermes needs.' });
    case 'ResourceNotFoundException':
    case 'QueueDoesNotExist':
    case 'AWS.SimpleQueueService.NonExistentQueue':
      return new HermesError(`A resource of this stage does not exist: ${e.message}`, {
        hint: 'Was the stage deployed (`hermes deploy --stage …`), or is the local stack (`hermes dev`) running with the same --state-dir?',
      });
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

export function formatError(err: unknown, debug: boolean, color: { red: (s: string) => string; dim: (s: string) => string }): { text: string; exitCode: number } {
  const known = explain(err);
  const lines: string[] = [];
  if (known) {
    lines.push(`${color.red('error:')} ${known.message}`);
    if (known.hint) lines.push(color.dim(known.hint));
  } else {
    lines.push(`${color.red('error:')} ${(err as Error)?.message ?? String(err)}`);
    if (!debug) lines.push(color.dim('This looks like a bug in hermes. Run again with --debug for the stack trace, and report it.'));
  }
  // An error may know more than its one line (a DeployError: the request id, the raw response head).
  const details = (known as { debugDetails?: () => string[] } | undefined)?.debugDetails;
  if (debug && typeof details === 'function') lines.push(...details.call(known).map((l) => color.dim(l)));
  if (debug && err instanceof Error && err.stack) lines.push(color.dim(err.stack));
  return { text: lines.join('\n'), exitCode: known?.exitCode ?? 1 };
}
