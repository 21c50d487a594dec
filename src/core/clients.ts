/**
 * AWS SDK client construction in one place. Nothing here runs at import time: callers (the CLI
 * context, a Lambda handler factory, the local stack) decide when and with which endpoints.
 * The SDK packages are imported lazily so that commands that do not talk to AWS start fast.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type {
  ApiGatewayManagementApiClient,
  PostToConnectionCommandInput,
  PostToConnectionCommandOutput,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { createHash } from 'node:crypto';
import { recordFailedCalls } from './aws-failure.js';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider, ChecksumConstructor, HashConstructor, ResponseMetadata } from '@smithy/types';

export interface ClientOptions {
  region: string;
  endpoint?: string;
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** Max sockets kept alive per client (fan-out reuses connections to the management API). */
  maxSockets?: number;
}

/** Local endpoints accept any signature; the SDK still insists on having credentials. */
export const LOCAL_CREDENTIALS: AwsCredentialIdentity = { accessKeyId: 'hermeslocal', secretAccessKey: 'hermeslocal' };

/**
 * The credentials for a client without explicit ones: placeholders for a loopback endpoint
 * (the local stack, an emulator), unless the environment carries keys, as a function's does on
 * Lambda and when a test runs a handler with the credentials of its role against an emulator
 * that checks them (moto with IAM enforcement); otherwise the SDK's default chain.
 */
export function defaultCredentials(endpoint: string | undefined, env: Record<string, string | undefined> = process.env): AwsCredentialIdentity | undefined {
  return isLoopbackEndpoint(endpoint) && !env.AWS_ACCESS_KEY_ID ? LOCAL_CREDENTIALS : undefined;
}

export function isLoopbackEndpoint(endpoint: string | undefined): boolean {
  if (!endpoint) return false;
  try {
    const host = new URL(endpoint).hostname;
    return host === 'localhost' || host === '[::1]' || host.startsWith('127.');
  } catch {
    return false;
  }
}

async function keepAliveAgents(maxSockets: number) {
  const http = await import('node:http');
  const https = await import('node:https');
  // Keep-alive agents: a fan-out makes many small requests to one host.
  return {
    http: new http.Agent({ keepAlive: true, maxSockets }),
    https: new https.Agent({ keepAlive: true, maxSockets }),
  };
}

async function httpHandler(maxSockets = 50, agents?: Awaited<ReturnType<typeof keepAliveAgents>>) {
  const { NodeHttpHandler } = await import('@smithy/node-http-handler');
  const a = agents ?? (await keepAliveAgents(maxSockets));
  return new NodeHttpHandler({
    httpAgent: a.http,
    httpsAgent: a.https,
    connectionTimeout: CONNECTION_TIMEOUT_MS,
    requestTimeout: REQUEST_TIMEOUT_MS,
  });
}

const CONNECTION_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 30_000;

function common(opts: ClientOptions) {
  const credentials = opts.credentials ?? defaultCredentials(opts.endpoint);
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
  recordFailedCalls(base, 'dynamodb');
  return DynamoDBDocumentClient.from(base, { marshallOptions: { removeUndefinedValues: true } });
}

export async function createSqsClient(opts: ClientOptions): Promise<SQSClient> {
  const { SQSClient } = await import('@aws-sdk/client-sqs');
  const client = new SQSClient({ ...common(opts), requestHandler: await httpHandler(opts.maxSockets) });
  recordFailedCalls(client, 'sqs');
  return client;
}

export async function createManagementClient(opts: ClientOptions & { endpoint: string }): Promise<ApiGatewayManagementApiClient> {
  const { ApiGatewayManagementApiClient } = await import('@aws-sdk/client-apigatewaymanagementapi');
  const agents = await keepAliveAgents(opts.maxSockets ?? 64);
  const client = new ApiGatewayManagementApiClient({
    ...common(opts),
    // Throttling (429) is retried by fan-out with its own backoff, so the SDK tries once.
    maxAttempts: 1,
    // Build each command's handler chain once, not on every send.
    cacheMiddleware: true,
    requestHandler: await httpHandler(undefined, agents),
  });
  const post = await leanPostToConnection({
    endpoint: opts.endpoint,
    region: opts.region,
    credentials: client.config.credentials,
    sha256: client.config.sha256,
    agent: new URL(opts.endpoint).protocol === 'https:' ? agents.https : agents.http,
  });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as PostToConnectionCommandInput;
      const body = context.commandName === 'PostToConnectionCommand' ? bytesOf(input.Data) : undefined;
      if (!body) return next(args); // other commands, and streamed data, take the SDK's path
      return { output: await post(input.ConnectionId ?? '', body), response: undefined };
    },
    { step: 'initialize', priority: 'high', name: 'hermesLeanPostToConnection' },
  );
  return client;
}

/**
 * PostToConnection, the call a fan-out makes once per connection, sent without the SDK's
 * generic middleware. Measured on the local stack, that middleware (endpoint rules, retry
 * bookkeeping, schema serde, user agent, per-call handler setup) cost about five times the
 * HTTP request itself. The request is the one the SDK sends (same path encoding, SigV4 for
 * `execute-api` with the client's credentials, same keep-alive agent) and errors come back as
 * the client package's exception classes with `$metadata`, so callers cannot tell the
 * difference; every other command takes the SDK's ordinary path.
 */
async function leanPostToConnection(opts: {
  endpoint: string;
  region: string;
  credentials: AwsCredentialIdentityProvider;
  sha256: ChecksumConstructor | HashConstructor;
  agent: import('node:http').Agent;
}): Promise<(connectionId: string, body: Uint8Array) => Promise<PostToConnectionCommandOutput>> {
  const [http, https, sdk] = await Promise.all([
    import('node:http'),
    import('node:https'),
    import('@aws-sdk/client-apigatewaymanagementapi'),
  ]);
  const url = new URL(opts.endpoint);
  const request = url.protocol === 'https:' ? https.request : http.request;
  const port = url.port ? Number(url.port) : undefined;
  // The SDK appends `/@connections/{id}` to the endpoint's path minus one trailing slash (docs/api-gateway-websocket.md §4.2).
  const basePath = url.pathname.endsWith('/') ? url.pathname.slice(0, -1) : url.pathname;
  // The SDK's own signer (with its signing-key cache). A payload hash given as
  // x-amz-content-sha256 is used as is, so each frame is hashed once per message, not once
  // per connection.
  const signer = new SignatureV4({ credentials: opts.credentials, region: opts.region, service: 'execute-api', sha256: opts.sha256, uriEscapePath: true });
  const payloadHashes = new WeakMap<Uint8Array, string>();
  const sign = async (path: string, body: Uint8Array): Promise<Record<string, string>> => {
    let payloadHash = payloadHashes.get(body);
    if (payloadHash === undefined) payloadHashes.set(body, (payloadHash = createHash('sha256').update(body).digest('hex')));
    const signed = await signer.sign({
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      ...(port ? { port } : {}),
      path,
      query: {},
      headers: {
        host: url.host,
        'content-type': 'application/octet-stream',
        'content-length': String(body.byteLength),
        'x-amz-content-sha256': payloadHash,
      },
      body,
    });
    return signed.headers;
  };
  const exceptions: Record<string, new (o: { message: string; $metadata: ResponseMetadata }) => Error> = {
    GoneException: sdk.GoneException,
    LimitExceededException: sdk.LimitExceededException,
    ForbiddenException: sdk.ForbiddenException,
    PayloadTooLargeException: sdk.PayloadTooLargeException,
  };
  const toError = (status: number, headers: import('node:http').IncomingHttpHeaders, body: string): Error => {
    let parsed: Record<string, unknown> = {};
    try {
      parsed = JSON.parse(body) as Record<string, unknown>;
    } catch {
      // A real 410 has a non-JSON body (docs/api-gateway-websocket.md §4.1); the type is in the header.
    }
    // As the SDK finds it: header, then body `code`, then `__type`; without namespace or suffix.
    const raw = String(headers['x-amzn-errortype'] ?? parsed.code ?? parsed.__type ?? 'Unknown');
    const type = raw.split(':')[0].split('#').pop()!;
    const $metadata: ResponseMetadata = { httpStatusCode: status, requestId: headers['x-amzn-requestid'] as string | undefined, attempts: 1, totalRetryDelay: 0 };
    const message = String(parsed.message ?? parsed.Message ?? type);
    const Known = exceptions[type];
    if (Known) return new Known({ message, $metadata });
    return new sdk.ApiGatewayManagementApiServiceException({ name: type, $fault: status >= 500 ? 'server' : 'client', message, $metadata });
  };

  return async (connectionId, body) => {
    const path = `${basePath}/@connections/${encodeSegment(connectionId)}`;
    const headers = await sign(path, body);
    return new Promise((resolve, reject) => {
      const req = request(
        { agent: opts.agent, hostname: url.hostname, port, method: 'POST', path, headers },
        (res) => {
          const status = res.statusCode ?? 0;
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => {
            if (status >= 300 && chunks.length < 64) chunks.push(c);
          });
          res.on('error', reject);
          res.on('end', () => {
            if (status >= 200 && status < 300) {
              resolve({ $metadata: { httpStatusCode: status, requestId: res.headers['x-amzn-requestid'] as string | undefined, attempts: 1, totalRetryDelay: 0 } });
            } else {
              reject(toError(status, res.headers, Buffer.concat(chunks).toString('utf8')));
            }
          });
        },
      );
      req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(Object.assign(new Error(`PostToConnection timed out after ${REQUEST_TIMEOUT_MS} ms`), { name: 'TimeoutError' })));
      req.on('error', reject);
      req.end(body);
    });
  };
}

function bytesOf(data: PostToConnectionCommandInput['Data']): Uint8Array | undefined {
  if (data === undefined) return new Uint8Array();
  if (typeof data === 'string') return Buffer.from(data);
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return undefined;
}

/** The SDK's `extendedEncodeURIComponent`: encodeURIComponent plus the RFC 3986 reserved `!'()*`. */
function encodeSegment(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
