/**
 * The AWS clients deploy and destroy use, built once per run from the CLI's region, endpoint
 * and credentials. Every call goes through `at(resource)`, which turns a failure into a
 * DeployError naming the resource, the service and the operation; a middleware keeps the HTTP
 * exchange of a failed call (URL, status, headers) on the error for that (core/aws-failure.ts). Tests hook
 * `configure` to add middleware (recording requests, injecting failures) without touching
 * this code path.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { IAMClient } from '@aws-sdk/client-iam';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { ApiGatewayV2Client } from '@aws-sdk/client-apigatewayv2';
import type { SSMClient } from '@aws-sdk/client-ssm';
import type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { defaultCredentials } from '../core/clients.js';
import { deployError, DeployError, errorName } from './errors.js';
import { recordFailedCalls } from '../core/aws-failure.js';

type Sendable = { send: (...args: never[]) => unknown; destroy(): void };

export interface Guarded<C extends Sendable> {
  client: C;
  /** `send`, with failures reported against `resource`. */
  at(resource: string): C['send'];
}

/** As the AWS CLI (and botocore) name them. */
export type ServiceName = 'dynamodb' | 'sqs' | 'iam' | 'lambda' | 'apigatewayv2' | 'ssm' | 'logs';

export interface Aws {
  region: string;
  endpoint?: string;
  dynamodb: Guarded<DynamoDBClient>;
  sqs: Guarded<SQSClient>;
  iam: Guarded<IAMClient>;
  lambda: Guarded<LambdaClient>;
  apigateway: Guarded<ApiGatewayV2Client>;
  ssm: Guarded<SSMClient>;
  logs: Guarded<CloudWatchLogsClient>;
  destroy(): void;
}

export interface AwsOptions {
  region: string;
  endpoint?: string;
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** "Deploy" or "Destroy": the first word of error messages. */
  verb?: string;
  /** Called on each client after it is built (tests add middleware here). */
  configure?: (client: Sendable & { middlewareStack: unknown }, service: ServiceName) => void;
}

export async function createAws(opts: AwsOptions): Promise<Aws> {
  const [ddb, sqs, iam, lambda, apigw, ssm, logs] = await Promise.all([
    import('@aws-sdk/client-dynamodb'),
    import('@aws-sdk/client-sqs'),
    import('@aws-sdk/client-iam'),
    import('@aws-sdk/client-lambda'),
    import('@aws-sdk/client-apigatewayv2'),
    import('@aws-sdk/client-ssm'),
    import('@aws-sdk/client-cloudwatch-logs'),
  ]);
  const credentials = opts.credentials ?? defaultCredentials(opts.endpoint);
  const config = {
    region: opts.region,
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    ...(credentials ? { credentials } : {}),
    maxAttempts: 5,
  };
  const guard = <C extends Sendable & { middlewareStack: unknown }>(client: C, service: ServiceName): Guarded<C> => {
    recordFailedCalls(client, service);
    opts.configure?.(client, service);
    return {
      client,
      at: (resource: string) =>
        (async (command: object) => {
          try {
            return await (client.send as (c: object) => Promise<unknown>).call(client, command);
          } catch (err) {
            const action = command.constructor.name.replace(/Command$/, '');
            throw deployError(err, { service, action, resource, region: opts.region, endpoint: opts.endpoint, verb: opts.verb });
          }
        }) as C['send'],
    };
  };
  const aws: Aws = {
    region: opts.region,
    endpoint: opts.endpoint,
    dynamodb: guard(new ddb.DynamoDBClient(config), 'dynamodb'),
    sqs: guard(new sqs.SQSClient(config), 'sqs'),
    iam: guard(new iam.IAMClient(config), 'iam'),
    lambda: guard(new lambda.LambdaClient(config), 'lambda'),
    apigateway: guard(new apigw.ApiGatewayV2Client(config), 'apigatewayv2'),
    ssm: guard(new ssm.SSMClient(config), 'ssm'),
    logs: guard(new logs.CloudWatchLogsClient(config), 'logs'),
    destroy() {
      for (const g of [aws.dynamodb, aws.sqs, aws.iam, aws.lambda, aws.apigateway, aws.ssm, aws.logs]) g.client.destroy();
    },
  };
  return aws;
}

/** The AWS error name behind a DeployError (or any error). */
export function awsErrorName(err: unknown): string | undefined {
  return err instanceof DeployError ? errorName(err.cause) : errorName(err);
}

/** Resolve to undefined when the call fails because the resource does not exist. */
export async function unlessMissing<T>(p: Promise<T>, names: string[]): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (names.includes(awsErrorName(err) ?? '')) return undefined;
    throw err;
  }
}

export const NOT_FOUND = [
  'ResourceNotFoundException',
  'NoSuchEntity',
  'NoSuchEntityException',
  'NotFoundException',
  'QueueDoesNotExist',
  'AWS.SimpleQueueService.NonExistentQueue',
  'ParameterNotFound',
];
