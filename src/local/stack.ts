/**
 * The whole system on one machine: DynamoDB (dynalite), SQS (local-aws-sqs), the API Gateway
 * WebSocket + @connections emulator, and the five Lambda bundles invoked in-process, wired as
 * `hermes deploy` wires them on AWS. Used by `hermes dev` and by the integration tests.
 */
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { startDynamo, ensureTables, type LocalDynamo } from './dynamodb.js';
import { startSqs, ensureQueues, type LocalSqs, type StageQueues, MAX_RECEIVE_COUNT } from './sqs.js';
import { loadFunction, type LocalFunction } from './lambda-runtime.js';
import { readableHandlerLine } from './handler-log-lines.js';
import { startPoller, type Poller } from './poller.js';
import { startGateway, type Gateway } from './gateway.js';
import { createDocumentClient, createSqsClient } from '../core/clients.js';
import { resourceNames, HANDLER_NAMES, type HandlerName, type ResourceNames } from '../core/names.js';
import { ENV, type Env } from '../core/handler-env.js';
import { generateJwtSecret } from '../core/tokens.js';
import type { LineLogger } from '../core/handler-log.js';
import type { ServiceEndpoints } from '../core/config.js';

export const DEFAULT_PORTS = { gateway: 3001, dynamodb: 8000, sqs: 9324 } as const;
/** Function timeouts as deployed; the queue's visibility timeout is 6x send-message's (spec §6). */
export const FUNCTION_TIMEOUT_SECONDS: Record<HandlerName, number> = {
  authorizer: 10,
  connect: 10,
  disconnect: 10,
  'send-message': 30,
  default: 10,
};

export interface LocalStackOptions {
  stage?: string;
  host?: string;
  ports?: Partial<Record<keyof typeof DEFAULT_PORTS, number>>;
  /** Where dynalite keeps its data; undefined = in memory. */
  dataDir?: string;
  region?: string;
  jwtSecret?: string;
  bundleDir?: string;
  idleTimeoutMs?: number;
  maxLifetimeMs?: number;
  /** Queue visibility timeout; default 6 x send-message timeout = 180 s. Tests shorten it. */
  visibilityTimeoutSeconds?: number;
  maxReceiveCount?: number;
  batchSize?: number;
  pollers?: number;
  fanoutConcurrency?: number;
  shardSize?: number;
  /** Fan-out keeps 410-answering rows younger than this (default 60 s); tests of pruning set 0. */
  connectGraceSeconds?: number;
  /** Logs of the handlers and of the gateway. */
  logger?: LineLogger;
  /** Extra HTTP routes on the gateway's port (the demo page, the local token endpoint). */
  httpHandler?: (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;
  gatewayLog?: (line: string) => void;
}

export interface LocalStack {
  stage: string;
  region: string;
  names: ResourceNames;
  endpoints: Required<ServiceEndpoints>;
  queues: StageQueues;
  jwtSecret: string;
  gateway: Gateway;
  ddb: DynamoDBDocumentClient;
  sqs: SQSClient;
  functions: Record<HandlerName, LocalFunction>;
  poller: Poller;
  /**
   * Closes the gateway (every socket gets 1001) and starts it again on the same port and API id,
   * keeping tables, queues and functions: what clients see when API Gateway drops them all.
   * `whileDown` runs in between, e.g. to watch clients fail to reconnect.
   */
  restartGateway(opts?: { whileDown?: () => Promise<unknown> }): Promise<Gateway>;
  close(): Promise<void>;
}

const silent: LineLogger = { info: () => {}, warn: () => {}, error: () => {} };

export async function startLocalStack(opts: LocalStackOptions = {}): Promise<LocalStack> {
  const stage = opts.stage ?? 'local';
  const host = opts.host ?? '127.0.0.1';
  const region = opts.region ?? 'us-east-1';
  const names = resourceNames(stage);
  const logger = opts.logger ?? silent;
  const jwtSecret = opts.jwtSecret ?? generateJwtSecret();
  const cleanups: Array<() => Promise<void>> = [];
  const close = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  };

  try {
    if (opts.dataDir) mkdirSync(opts.dataDir, { recursive: true });
    const dynamo: LocalDynamo = await startDynamo({
      host,
      port: opts.ports?.dynamodb ?? DEFAULT_PORTS.dynamodb,
      path: opts.dataDir ? path.join(opts.dataDir, 'dynamodb') : undefined,
    });
    cleanups.push(() => dynamo.close());
    const sqsServer: LocalSqs = await startSqs({ host, port: opts.ports?.sqs ?? DEFAULT_PORTS.sqs, region });
    cleanups.push(() => sqsServer.close());

    const ddb = await createDocumentClient({ region, endpoint: dynamo.endpoint });
    const sqs = await createSqsClient({ region, endpoint: sqsServer.endpoint });
    cleanups.push(async () => {
      ddb.destroy();
      sqs.destroy();
    });
    await ensureTables(ddb, names);
    const queues = await ensureQueues(sqs, names, {
      visibilityTimeoutSeconds: opts.visibilityTimeoutSeconds ?? 6 * FUNCTION_TIMEOUT_SECONDS['send-message'],
      maxReceiveCount: opts.maxReceiveCount ?? MAX_RECEIVE_COUNT,
    });

    // The gateway needs the functions and the functions need the gateway's port (for
    // @connections), so routes call through this table, filled right after the gateway starts.
    const functions = {} as Record<HandlerName, LocalFunction>;
    const via = (h: HandlerName) => (event: unknown) => functions[h].invoke(event);
    const gatewayOptions = (port: number, apiId?: string) => ({
      host,
      port,
      stage,
      region,
      apiId,
      authorizer: via('authorizer'),
      routes: { $connect: via('connect'), $disconnect: via('disconnect'), sendMessage: via('send-message'), $default: via('default') },
      idleTimeoutMs: opts.idleTimeoutMs,
      maxLifetimeMs: opts.maxLifetimeMs,
      httpHandler: opts.httpHandler,
      log: opts.gatewayLog,
    });
    let gateway = await startGateway(gatewayOptions(opts.ports?.gateway ?? DEFAULT_PORTS.gateway));
    cleanups.push(() => gateway.close());
    const restartGateway = async (r: { whileDown?: () => Promise<unknown> } = {}) => {
      const { port, apiId } = gateway;
      await gateway.close();
      await r.whileDown?.();
      gateway = await startGateway(gatewayOptions(port, apiId));
      return gateway;
    };

    const baseEnv: Env = {
      AWS_REGION: region,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_SQS: sqsServer.endpoint,
      [ENV.stage]: stage,
      [ENV.connectionsTable]: names.connectionsTable,
      [ENV.tokensTable]: names.tokensTable,
    };
    // Each function gets only what its deployed twin gets (see src/deploy): the secret goes
    // to the authorizer alone.
    const envOf: Record<HandlerName, Env> = {
      authorizer: { ...baseEnv, [ENV.jwtSecret]: jwtSecret },
      connect: baseEnv,
      disconnect: baseEnv,
      default: { ...baseEnv, [ENV.managementEndpoint]: gateway.managementEndpoint },
      'send-message': {
        ...baseEnv,
        [ENV.managementEndpoint]: gateway.managementEndpoint,
        [ENV.queueUrl]: queues.queueUrl,
        [ENV.dlqUrl]: queues.dlqUrl,
        ...(opts.fanoutConcurrency ? { [ENV.fanoutConcurrency]: String(opts.fanoutConcurrency) } : {}),
        ...(opts.shardSize !== undefined ? { [ENV.shardSize]: String(opts.shardSize) } : {}),
        ...(opts.connectGraceSeconds !== undefined ? { [ENV.connectGraceSeconds]: String(opts.connectGraceSeconds) } : {}),
      },
    };
    for (const h of HANDLER_NAMES) {
      const readable = (line: unknown) => readableHandlerLine(h, String(line));
      functions[h] = await loadFunction(h, {
        functionName: names.fn(h),
        bundleDir: opts.bundleDir,
        env: envOf[h],
        region,
        timeoutMs: FUNCTION_TIMEOUT_SECONDS[h] * 1000,
        logger: { info: (l) => logger.info(readable(l)), warn: (l) => logger.warn(readable(l)), error: (l) => logger.error(readable(l)) },
      });
    }

    const poller = startPoller({
      sqs,
      queueUrl: queues.queueUrl,
      queueArn: queues.queueArn,
      region,
      fn: functions['send-message'],
      batchSize: opts.batchSize,
      concurrency: opts.pollers,
      reportBatchItemFailures: true,
      logger,
    });
    // Stop polling before the servers go, so no batch is cut in half.
    cleanups.push(() => poller.stop());

    return {
      stage,
      region,
      names,
      endpoints: { dynamodb: dynamo.endpoint, sqs: sqsServer.endpoint, management: gateway.managementEndpoint, websocket: gateway.url },
      queues,
      jwtSecret,
      get gateway() {
        return gateway;
      },
      ddb,
      sqs,
      functions,
      poller,
      restartGateway,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
