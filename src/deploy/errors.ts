/**
 * An AWS failure during deploy or destroy becomes one line: which resource, which call, what
 * AWS said, and a hint for the class of error (permissions, credentials, region, quota). The
 * class is read from the error's name and network code, never from its message text.
 */
import { HermesError, unreachableCode } from '../core/errors.js';

export class DeployError extends HermesError {
  override name = 'DeployError';
  constructor(
    readonly resource: string,
    readonly action: string,
    message: string,
    options: { hint?: string; cause?: unknown; verb?: string } = {},
  ) {
    super(`${options.verb ?? 'Deploy'} failed at ${resource} (${action}): ${message}`, options);
  }
}

interface AwsError {
  name?: string;
  code?: string;
  message?: string;
  cause?: unknown;
  errors?: unknown[];
  $metadata?: { httpStatusCode?: number };
}

const ACCESS = new Set(['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation', 'AuthorizationError']);
const EXPIRED = new Set(['ExpiredToken', 'ExpiredTokenException', 'RequestExpired', 'TokenRefreshRequired']);
const BAD_CREDS = new Set(['UnrecognizedClientException', 'InvalidClientTokenId', 'InvalidSignatureException', 'SignatureDoesNotMatch']);
const QUOTA = new Set([
  'LimitExceeded', 'LimitExceededException', 'ServiceQuotaExceededException', 'CodeStorageExceededException',
  'TooManyRequestsException', 'ThrottlingException', 'Throttling', 'RequestLimitExceeded', 'OverLimit',
]);
/** The IAM action a call needs, as the deploying user's policy must name it. */
export function iamAction(service: string, action: string): string {
  if (service === 'apigateway') {
    const method = /^(Get)/.test(action) ? 'GET' : /^(Update)/.test(action) ? 'PATCH' : /^(Delete|Untag)/.test(action) ? 'DELETE' : 'POST';
    return `apigateway:${method}`;
  }
  return `${service}:${action}`;
}

export interface CallSite {
  service: string;
  action: string;
  resource: string;
  region: string;
  endpoint?: string;
  verb?: string;
}

export function deployError(err: unknown, at: CallSite): DeployError {
  if (err instanceof DeployError) return err;
  const e = (err ?? {}) as AwsError;
  const name = e.name ?? 'Error';
  const message = (e.message || name).split('\n')[0];
  const opts = { cause: err, verb: at.verb };
  const net = unreachableCode(err);
  let hint: string;
  if (net) {
    hint = at.endpoint
      ? `Nothing answers at ${at.endpoint} (${net}): check --endpoint-url and that the emulator is running.`
      : `Cannot reach ${at.service} in region "${at.region}" (${net}): check --region (e.g. us-east-1) and your network.`;
  } else if (ACCESS.has(name)) {
    hint = `The identity in use is missing ${iamAction(at.service, at.action)}; grant it (docs/deploy.md lists every permission deploy needs).`;
  } else if (EXPIRED.has(name)) {
    hint = 'Your AWS credentials have expired: refresh them (e.g. `aws sso login`) and run deploy again; it continues where it stopped.';
  } else if (name === 'CredentialsProviderError') {
    hint = 'No AWS credentials were found: run `aws configure` or `aws sso login`, set AWS_PROFILE, or pass --profile.';
  } else if (BAD_CREDS.has(name)) {
    hint = `AWS does not accept these credentials in region "${at.region}": check --profile, AWS_PROFILE or the access keys, and that the region is enabled for your account.`;
  } else if (QUOTA.has(name)) {
    hint = 'An AWS quota or rate limit was reached: wait a minute and deploy again, or ask for a higher quota in the Service Quotas console.';
  } else {
    hint = 'Fix the cause above and run deploy again; resources already in place are kept and reused.';
  }
  return new DeployError(at.resource, at.action, message, { ...opts, hint });
}

export function errorName(err: unknown): string | undefined {
  return (err as AwsError | undefined)?.name;
}
