/**
 * What kind of refusal an AWS error is, by its name: missing, expired or rejected credentials,
 * a missing permission, a missing resource, a quota. Each place that explains a failure
 * (src/cli/errors.ts for every verb, src/deploy/errors.ts for deploy) picks its hint by kind,
 * so a name is classified the same way everywhere. Kept apart from ./aws-failure.ts, which the
 * Lambda bundles include.
 */
export type AwsErrorKind = 'no_credentials' | 'expired_credentials' | 'bad_credentials' | 'access_denied' | 'resource_not_found' | 'quota';

/** The error names of each kind, as the SDKs, STS, IAM and the services spell them. */
const KINDS: Array<[AwsErrorKind, string[]]> = [
  ['no_credentials', ['CredentialsProviderError']],
  ['expired_credentials', ['ExpiredToken', 'ExpiredTokenException', 'RequestExpired', 'TokenRefreshRequired']],
  ['bad_credentials', ['UnrecognizedClientException', 'InvalidClientTokenId', 'InvalidSignatureException', 'SignatureDoesNotMatch']],
  ['access_denied', ['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation', 'AuthorizationError']],
  ['resource_not_found', ['ResourceNotFoundException', 'QueueDoesNotExist', 'AWS.SimpleQueueService.NonExistentQueue']],
  [
    'quota',
    [
      'LimitExceeded', 'LimitExceededException', 'ServiceQuotaExceededException', 'CodeStorageExceededException',
      'TooManyRequestsException', 'ThrottlingException', 'Throttling', 'RequestLimitExceeded', 'OverLimit',
    ],
  ],
];
const KIND_OF = new Map(KINDS.flatMap(([kind, names]) => names.map((n) => [n, kind] as const)));

/** The kind of an AWS (or credential provider) error, by its name; undefined for any other. */
export function awsErrorKind(err: unknown): AwsErrorKind | undefined {
  const name = (err as { name?: unknown } | undefined)?.name;
  return typeof name === 'string' ? KIND_OF.get(name) : undefined;
}
