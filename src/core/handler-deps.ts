/**
 * Clients a handler needs, built once per handler instance (a warm Lambda container reuses
 * them across invocations) and only when first used.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { createDocumentClient, createManagementClient, createSqsClient } from './clients.js';
import { createHandlerLogger, invocationLogger, type LineLogger } from './handler-log.js';
import type { HandlerSettings } from './handler-env.js';
import type { HistoryDeps } from './history.js';

export interface HandlerDeps {
  settings: HandlerSettings;
  /** The logger for one invocation: its lines carry the context's request id (core/handler-log.ts). */
  invocationLogger(context?: Context): Logger;
  ddb(): Promise<DynamoDBDocumentClient>;
  /** The history table as core/history.ts uses it; undefined when the stage keeps no history. */
  history(): Promise<HistoryDeps | undefined>;
  sqs(): Promise<SQSClient>;
  /** The management client for an endpoint; one per endpoint, cached. */
  management(endpoint: string): Promise<ApiGatewayManagementApiClient>;
}

export interface HandlerOverrides {
  /** Where the handler's JSON log lines go instead of stdout/stderr: the local stack, tests. */
  logger?: LineLogger;
  ddb?: DynamoDBDocumentClient;
  sqs?: SQSClient;
  management?: (endpoint: string) => ApiGatewayManagementApiClient;
}

function once<T>(make: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= make().catch((err) => ((p = undefined), Promise.reject(err))));
}

export function handlerDeps(settings: HandlerSettings, overrides: HandlerOverrides = {}): HandlerDeps {
  const managementClients = new Map<string, Promise<ApiGatewayManagementApiClient>>();
  const logger = createHandlerLogger(overrides.logger);
  const ddb = once(async () => overrides.ddb ?? createDocumentClient({ region: settings.region, endpoint: settings.dynamodbEndpoint }));
  return {
    settings,
    invocationLogger: (context) => invocationLogger(logger, context),
    ddb,
    history: once(async () =>
      settings.historyRetentionSeconds > 0
        ? { ddb: await ddb(), table: settings.historyTable, retentionSeconds: settings.historyRetentionSeconds, maxPerStream: settings.historyMaxPerStream }
        : undefined,
    ),
    sqs: once(async () => overrides.sqs ?? createSqsClient({ region: settings.region, endpoint: settings.sqsEndpoint })),
    management(endpoint) {
      let c = managementClients.get(endpoint);
      if (!c) {
        c = overrides.management
          ? Promise.resolve(overrides.management(endpoint))
          : createManagementClient({ region: settings.region, endpoint, maxSockets: settings.fanoutConcurrency * 2 });
        managementClients.set(endpoint, c);
      }
      return c;
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
