/**
 * An AWS failure during deploy or destroy becomes one line: which resource, which call (service
 * and operation, as the AWS CLI names them), the HTTP status and AWS's own error code and
 * message, then a hint for the class of error (permissions, credentials, region, quota). An
 * answer that is not AWS's (an HTML page from a proxy or a wrong endpoint, an operation an
 * emulator lacks) says so, with the endpoint and the status. The class is read from the error's
 * name and network code, never from its message text. The fields are the error's own
 * properties, so `--json` reports them (src/cli/errors.ts); `--debug` adds the request id and
 * the raw response head.
 */
import { HermesError, unreachableCode } from '../core/errors.js';
import { failedCall, failureText } from '../core/aws-failure.js';
import { awsErrorKind } from '../core/aws-error-kind.js';

/** What a person or a script needs to act on a failed call. */
export interface CallFailure {
  /** The resource deploy was working on, e.g. `function hermes-dev-connect`. */
  resource: string;
  /** The AWS CLI's name for the service: lambda, apigatewayv2, dynamodb, sqs, iam, … */
  service: string;
  /** The API operation, e.g. CreateFunction. */
  operation: string;
  httpStatus?: number;
  /** AWS's error code (AccessDeniedException, …); absent when the answer was not AWS's. */
  awsCode?: string;
  requestId?: string;
  /** Where the request went (scheme, host and port). */
  endpoint?: string;
  /** True when something other than AWS answered (an HTML page, an unparsable body). */
  notAws?: boolean;
}

export class DeployError extends HermesError implements CallFailure {
  override name = 'DeployError';
  readonly resource: string;
  readonly service: string;
  readonly operation: string;
  readonly httpStatus?: number;
  readonly awsCode?: string;
  readonly requestId?: string;
  readonly endpoint?: string;
  readonly notAws?: boolean;
  /** The raw response's status line and headers, for --debug (not part of --json). */
  declare readonly responseHead?: string;

  constructor(f: CallFailure, message: string, options: { hint?: string; cause?: unknown; verb?: string; responseHead?: string } = {}) {
    super(`${options.verb ?? 'Deploy'} failed at ${f.resource} (${f.service} ${f.operation}): ${message}`, options);
    this.resource = f.resource;
    this.service = f.service;
    this.operation = f.operation;
    if (f.httpStatus !== undefined) this.httpStatus = f.httpStatus;
    if (f.awsCode) this.awsCode = f.awsCode;
    if (f.requestId) this.requestId = f.requestId;
    if (f.endpoint) this.endpoint = f.endpoint;
    if (f.notAws) this.notAws = true;
    Object.defineProperty(this, 'responseHead', { value: options.responseHead, enumerable: false });
  }

  /** What --debug prints under the message. */
  debugDetails(): string[] {
    return [`request id: ${this.requestId ?? '(none in the response)'}`, ...(this.responseHead ? [`response: ${this.responseHead}`] : [])];
  }
}

/** The IAM action a call needs, as the deploying user's policy must name it. */
export function iamAction(service: string, action: string): string {
  if (service === 'apigatewayv2') {
    const method = /^(Get)/.test(action) ? 'GET' : /^(Update)/.test(action) ? 'PATCH' : /^(Delete|Untag)/.test(action) ? 'DELETE' : 'POST';
    return `apigateway:${method}`;
  }
  return `${service}:${action}`;
}

export interface CallSite {
  service: string;
  /** The operation (CreateFunction, …). */
  action: string;
  resource: string;
  region: string;
  endpoint?: string;
  verb?: string;
}

export function deployError(err: unknown, at: CallSite): DeployError {
  if (err instanceof DeployError) return err;
  const f = failedCall(err);
  const endpoint = f.endpoint ?? at.endpoint;
  const base = { resource: at.resource, service: at.service, operation: at.action, httpStatus: f.httpStatus, requestId: f.requestId, endpoint };
  const opts = { cause: err, verb: at.verb, responseHead: f.responseHead };
  const net = unreachableCode(err);
  if (net) {
    const hint = at.endpoint
      ? `Nothing answers at ${at.endpoint} (${net}): check --endpoint-url and that the emulator is running.`
      : `Cannot reach ${at.service} in region "${at.region}" (${net}): check --region (e.g. us-east-1) and your network.`;
    return new DeployError({ ...base, httpStatus: undefined }, `cannot connect to ${endpoint ?? `${at.service} in ${at.region}`} (${net})`, { ...opts, hint });
  }
  if (f.notAws) {
    const hint = at.endpoint
      ? `${at.endpoint} does not implement ${at.service} ${at.action}, or is not an AWS endpoint: check --endpoint-url. (moto_server lacks a few operations; docs/deploy.md lists the ones deploy may need.)`
      : 'Something other than AWS answered (a proxy, a captive portal, a firewall): check HTTPS_PROXY and your network.';
    return new DeployError({ ...base, notAws: true }, failureText(err, { ...f, endpoint }), { ...opts, hint });
  }
  const kind = awsErrorKind(err);
  let hint: string;
  if (kind === 'access_denied') {
    hint = `The identity in use is missing ${iamAction(at.service, at.action)}; grant it (docs/deploy.md lists every permission deploy needs).`;
  } else if (kind === 'expired_credentials') {
    hint = 'Your AWS credentials have expired: refresh them (e.g. `aws sso login`) and run deploy again; it continues where it stopped.';
  } else if (kind === 'no_credentials') {
    hint = 'No AWS credentials were found: run `aws configure` or `aws sso login`, set AWS_PROFILE, or pass --profile.';
  } else if (kind === 'bad_credentials') {
    hint = `AWS does not accept these credentials in region "${at.region}": check --profile, AWS_PROFILE or the access keys, and that the region is enabled for your account.`;
  } else if (kind === 'quota') {
    hint = 'An AWS quota or rate limit was reached: wait a minute and deploy again, or ask for a higher quota in the Service Quotas console.';
  } else {
    hint = 'Fix the cause above and run deploy again; resources already in place are kept and reused.';
  }
  const awsCode = kind === 'no_credentials' ? undefined : f.awsCode;
  return new DeployError({ ...base, awsCode }, failureText(err, f), { ...opts, hint });
}

export function errorName(err: unknown): string | undefined {
  return (err as { name?: string } | undefined)?.name;
}
