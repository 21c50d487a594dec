/**
 * Every error hermes expects to happen is a HermesError: a full-sentence message saying what
 * went wrong, and a hint saying how to fix it. The CLI's single top-level handler prints those
 * without a stack trace; anything else is a bug and is shown with one under --debug.
 */
export class HermesError extends Error {
  override name = 'HermesError';
  /** How to fix it, one sentence; printed on its own line. */
  readonly hint?: string;
  /** Process exit code the CLI uses: 1 for failures, 2 for usage errors. */
  readonly exitCode: number = 1;
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.hint = options.hint;
  }
}

/** The user asked for something malformed: a bad flag value, missing input. Exit code 2. */
export class UsageError extends HermesError {
  override name = 'UsageError';
  override readonly exitCode = 2;
}

/**
 * A value given to a core function breaks its rule. The message says what is wrong in terms of
 * the value; `field` names the input as the function calls it (e.g. `userId`), so the caller,
 * which knows where the value came from (a flag, a form field), can say how to fix it.
 */
export class InvalidInputError extends UsageError {
  override name = 'InvalidInputError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** A message or frame exceeds an AWS limit. */
export class LimitError extends HermesError {
  override name = 'LimitError';
  constructor(
    readonly limitName: string,
    readonly limitBytes: number,
    readonly actualBytes: number,
    hint?: string,
  ) {
    super(
      `${limitName}: the message is ${actualBytes} bytes, ${actualBytes - limitBytes} bytes over the limit of ${limitBytes} bytes.`,
      { hint },
    );
  }
}

/** A message taken from the queue does not have the shape hermes documents. Never retried. */
export class MalformedMessageError extends HermesError {
  override name = 'MalformedMessageError';
}

/** Why a token is refused. `reason` is stable and machine-readable. */
export type TokenRefusal =
  | 'malformed'
  | 'algorithm'
  | 'unknown-key'
  | 'retired-key'
  | 'signature'
  | 'expired'
  | 'claims'
  | 'revoked'
  | 'secret-mismatch'
  | 'room-mismatch'
  | 'user-mismatch';

export class TokenRefusedError extends HermesError {
  override name = 'TokenRefusedError';
  constructor(
    readonly reason: TokenRefusal,
    message: string,
  ) {
    super(message);
  }
}

/** No local stack is running where one was expected. */
export class StackNotRunningError extends HermesError {
  override name = 'StackNotRunningError';
}

/** Network failures that mean "the endpoint cannot be reached", as Node reports them. */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH']);

/**
 * The network error code behind an AWS SDK error, if the endpoint could not be reached. The SDK
 * wraps it: the code may sit on the error itself, in `cause`, or in an AggregateError's `errors`.
 */
export function unreachableCode(err: unknown): string | undefined {
  let e = err as { code?: string; cause?: unknown; errors?: unknown[] } | undefined;
  for (let i = 0; e && i < 5; i++) {
    if (e.code && UNREACHABLE_CODES.has(e.code)) return e.code;
    e = (Array.isArray(e.errors) && e.errors.length ? e.errors[0] : e.cause) as typeof e;
  }
  return undefined;
}
