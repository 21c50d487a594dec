/**
 * AWS SDK client construction in one place. Nothing here runs at import time: callers (the CLI
 * context, a Lambda handler factory, the local stack) decide when and with which endpoints.
 * The SDK packages are imported lazily so that commands that do not talk to AWS start fast.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

export interface ClientOptions {
  region: string;
  endpoint?: string;
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** Max sockets kept alive per client (fan-out reuses connections to the management API). */
  maxSockets?: number;
}

/** Local endpoints accept any signature; the SDK still insists on having credentials. */
export const LOCAL_CREDENTIALS: AwsCredentialIdentity = { accessKeyId: 'hermeslocal', secretAccessKey: 'hermeslocal' };

export function isLoopbackEndpoint(endpoint: string | undefined): boolean {
  if (!endpoint) return false;
  try {
    const host = new URL(endpoint).hostname;
    return host === 'localhost' || host === '[::1]' || host.startsWith('127.');
  } catch {
    return false;
  }
}

async function httpHandler(maxSockets = 50) {
  const { NodeHttpHandler } = await import('@smithy/node-http-handler');
  const http = await import('node:http');
  const https = await import('node:https');
  // Keep-alive agents: a fan-out makes many small requests to one host.
  return new NodeHttpHandler({
    httpAgent: new http.Agent({ keepAlive: true, maxSockets }),
    httpsAgent: new https.Agent({ keepAlive: true, maxSockets }),
    connectionTimeout: 5_000,
    requestTimeout: 30_000,
  });
}

function common(opts: ClientOptions) {
  const credentials = opts.credentials ?? (isLoopbackEndpoint(opts.endpoint) ? LOCAL_CREDENTIALS : undefined);
  return {
    region: opts.region,
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    ...(credentials ? { credentials } : {}),
    maxAttempts: 3,
  };
}

export async function createDocumentClient(opts: ClientOptions): Promise<DynamoDBDocumentClient> {
  const [{ DynamoDBClient }, { DynamoDBDocumentClient }] = await Promise.all([
    import('@aws-sdk/client-dynamodb'),
    import('@aws-sdk/lib-dynamodb'),
  ]);
  const base = new DynamoDBClient({ ...common(opts), requestHandler: await httpHandler(opts.maxSockets) });
  return DynamoDBDocumentClient.from(base, { marshallOptions: { removeUndefinedValues: true } });
}

export async function createSqsClient(opts: ClientOptions): Promise<SQSClient> {
  const { SQSClient } = await import('@aws-sdk/client-sqs');
  return new SQSClient({ ...common(opts), requestHandler: await httpHandler(opts.maxSockets) });
}

export async function createManagementClient(opts: ClientOptions & { endpoint: string }): Promise<ApiGatewayManagementApiClient> {
  const { ApiGatewayManagementApiClient } = await import('@aws-sdk/client-apigatewaymanagementapi');
  return new ApiGatewayManagementApiClient({
    ...common(opts),
    // Throttling (429) is retried by fan-out with its own backoff, so the SDK tries once.
    maxAttempts: 1,
    requestHandler: await httpHandler(opts.maxSockets ?? 64),
  });
}
