/**
 * Clients a handler needs, built once per handler instance (a warm Lambda container reuses
 * them across invocations) and only when first used. Each handler names the client factories
 * it uses: esbuild inlines dynamic imports (the Lambda bundles are not split), so a factory
 * referenced here would put its SDK client into every bundle. This module only imports types.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import type { ClientOptions } from './clients.js';
import { createHandlerLogger, invocationLogger, type LineLogger } from './handler-log.js';
import type { HandlerSettings } from './handler-env.js';
import type { HistoryDeps } from './history.js';
import type { KeySource } from './signing-keys.js';

export interface HandlerDeps {
  settings: HandlerSettings;
  /** The logger for one invocation: its lines carry the context's request id (core/handler-log.ts). */
  invocationLogger(context?: Context): Logger;
  ddb(): Promise<DynamoDBDocumentClient>;
  /** The history table as core/history.ts uses it; undefined when the stage keeps no history. */
  history(): Promise<HistoryDeps | undefined>;
  sqs(): Promise<SQSClient>;
  /** The management client for an endpoint; one per endpoint, cached (a failed creation is tried again, as for the others). */
  management(endpoint: string): Promise<ApiGatewayManagementApiClient>;
  /** The stage's signing keys, read from SSM and cached per instance; undefined without a parameter configured. */
  signingKeys(): KeySource | undefined;
}

/** The client factories of core/clients.ts a handler uses; the others stay out of its bundle. */
export interface ClientFactories {
  ddb?: (opts: ClientOptions) => Promise<DynamoDBDocumentClient>;
  sqs?: (opts: ClientOptions) => Promise<SQSClient>;
  management?: (opts: ClientOptions & { endpoint: string }) => Promise<ApiGatewayManagementApiClient>;
  /** The stage's signing keys (core/ssm-key-source.ts): the authorizer's alone. */
  signingKeys?: (settings: HandlerSettings) => KeySource | undefined;
}

export interface HandlerOverrides {
  /** Where the handler's JSON log lines go instead of stdout/stderr: the local stack, tests. */
  logger?: LineLogger;
  ddb?: DynamoDBDocumentClient;
  sqs?: SQSClient;
  management?: (endpoint: string) => ApiGatewayManagementApiClient;
  signingKeys?: KeySource;
}

function once<T>(make: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= make().catch((err) => ((p = undefined), Promise.reject(err))));
}

/** A handler asked for a client it did not declare: a wiring bug, said plainly. */
function missing(client: string): never {
  throw new Error(`This handler was built without the ${client} client (pass its factory to handlerDeps).`);
}

export function handlerDeps(settings: HandlerSettings, clients: ClientFactories, overrides: HandlerOverrides = {}): HandlerDeps {
  const managementClients = new Map<string, () => Promise<ApiGatewayManagementApiClient>>();
  const logger = createHandlerLogger(overrides.logger);
  const ddb = once(async () => overrides.ddb ?? (clients.ddb ?? missing('DynamoDB'))({ region: settings.region, endpoint: settings.dynamodbEndpoint }));
  let keys: KeySource | undefined = overrides.signingKeys;
  return {
    settings,
    invocationLogger: (context) => invocationLogger(logger, context),
    ddb,
    history: once(async () =>
      settings.historyRetentionSeconds > 0
        ? { ddb: await ddb(), table: settings.historyTable, retentionSeconds: settings.historyRetentionSeconds, maxPerStream: settings.historyMaxPerStream }
        : undefined,
    ),
    sqs: once(async () => overrides.sqs ?? (clients.sqs ?? missing('SQS'))({ region: settings.region, endpoint: settings.sqsEndpoint })),
    signingKeys: () => (keys ??= clients.signingKeys?.(settings)),
    management(endpoint) {
      let c = managementClients.get(endpoint);
      if (!c) {
        c = once(async () =>
          overrides.management
            ? overrides.management(endpoint)
            : (clients.management ?? missing('@connections'))({ region: settings.region, endpoint, maxSockets: settings.fanoutConcurrency * 2 }),
        );
        managementClients.set(endpoint, c);
      }
      return c();
    },
  };
}

/** The management endpoint for a WebSocket event: configured, or derived as AWS documents it. */
export function managementEndpointFor(
  settings: HandlerSettings,
  requestContext?: { domainName?: string; stage?: string },
): string {
  if (settings.managementEndpoint) return settings.managementEndpoint;
  if (requestContext?.domainName && requestContext.stage) return `https://${requestContext.domainName}/${requestContext.stage}`;
  throw new Error('HERMES_MANAGEMENT_ENDPOINT is not set and the event carries no domainName/stage to derive it from.');
}
