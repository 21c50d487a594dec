/**
 * The whole system on one machine: DynamoDB (dynalite), SQS (local-aws-sqs), the API Gateway
 * WebSocket + @connections emulator, an SSM Parameter Store holding the signing keys (./ssm.ts,
 * read by the authorizer as on AWS), and the Lambda bundles run by worker-thread instances
 * (lambda-runtime.ts), wired from the same stage definition `hermes deploy` reads
 * (src/stack/definition.ts): routes, authorizer, functions and their environment, queues, the
 * event source. Used by `hermes dev` and by the
 * integration tests.
 */
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { startDynamo, ensureTables, type LocalDynamo } from './dynamodb.js';
import { startSqs, ensureQueues, type LocalSqs, type StageQueues } from './sqs.js';
import { startSsm } from './ssm.js';
import { DEFAULT_CONCURRENCY, loadFunction, type LocalFunction } from './lambda-runtime.js';
import { readableHandlerLine } from './handler-log-lines.js';
import { startPoller, type Poller } from './poller.js';
import { startGateway, type Gateway } from './gateway.js';
import { createDocumentClient, createSqsClient } from '../core/clients.js';
import { nameSettings, resourceNames, type ResourceNames } from '../stack/names.js';
import {
  AUTHORIZER, DEFAULT_SETTINGS, EVENT_SOURCE, queueDefinitions, type StageSettings, HANDLER_NAMES, ROUTES, functionEnvironment, type EnvSetting, type HandlerName,
} from '../stack/definition.js';
import type { Env } from '../core/handler-env.js';
import { cachedKeySource, newKeyRing, parseKeyRing, serializeKeyRing, type KeySource } from '../core/signing-keys.js';
import { getParameter } from '../core/ssm-parameter.js';
import { LOCAL_CREDENTIALS } from '../core/clients.js';
import type { LineLogger } from '../core/handler-log.js';
import type { ServiceEndpoints } from '../config/stage-record.js';
import { DEFAULT_HOST, DEFAULT_PORTS } from '../config/dev-settings.js';
import { DEFAULT_REGION } from '../core/defaults.js';
import { TABLES } from '../stack/tables.js';
import { UsageMeter } from './usage.js';

export interface LocalStackOptions {
  stage?: string;
  host?: string;
  ports?: Partial<Record<keyof typeof DEFAULT_PORTS, number>>;
  /** Where dynalite keeps its data; undefined = in memory. */
  dataDir?: string;
  region?: string;
  /** The stage's settings (hermes.config.json `stages.local`): function timeouts, queue retentions, batch and shard sizes. */
  settings?: StageSettings;
  /** Where the local SSM parameters (the signing keys) are kept, mode 0600; undefined = in memory. */
  parameterFile?: string;
  /** How long the authorizer caches the key ring (default 60 s); tests of rotation shorten it. */
  keyCacheSeconds?: number;
  bundleDir?: string;
  idleTimeoutMs?: number;
  maxLifetimeMs?: number;
  /** Queue visibility timeout; default as defined (6 x send-message timeout). Tests shorten it. */
  visibilityTimeoutSeconds?: number;
  maxReceiveCount?: number;
  batchSize?: number;
  pollers?: number;
  fanoutConcurrency?: number;
  shardSize?: number;
  /** Fan-out keeps 410-answering rows younger than this (default 60 s); tests of pruning set 0. */
  connectGraceSeconds?: number;
  /** How long messages are kept for replay (default 24 h); 0 keeps no history. */
  historyRetentionSeconds?: number;
  /** Messages kept per room or user (default 10,000); 0 = no cap. */
  historyMaxPerStream?: number;
  /** The stage's tunable settings as `hermes dev` resolved them (src/config/resolve.ts stageTunables); the options above win. */
  tunables?: Partial<Record<EnvSetting, string>>;
  /** Shorter function timeouts than defined, e.g. to watch send-message hand a room over before its deadline. */
  timeoutSeconds?: Partial<Record<HandlerName, number>>;
  /** Logs of the handlers and of the gateway. */
  logger?: LineLogger;
  /** Each handler's raw log line (Powertools JSON), as Lambda would send it to CloudWatch Logs. */
  onHandlerLine?: (handler: HandlerName, line: string) => void;
  /** Extra HTTP routes on the gateway's port (the demo page, the local token endpoint). */
  httpHandler?: (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;
  gatewayLog?: (line: string) => void;
  /**
   * The DynamoDB and @connections endpoints the functions are given, from the real ones: by
   * default those. The fault suite (scripts/faults.mjs) puts a loopback proxy in between to cut
   * or throttle them.
   */
  functionEndpoints?: (real: { dynamodb: string; management: string }) => Partial<{ dynamodb: string; management: string }>;
}

export interface LocalStack {
  stage: string;
  region: string;
  names: ResourceNames;
  endpoints: Required<ServiceEndpoints>;
  queues: StageQueues;
  /** The stage's signing keys as hermes commands read them: through the local SSM endpoint, uncached. */
  signingKeys: KeySource;
  /** Messages put back into the queues from the last run (persisted mode). */
  restoredMessages: number;
  gateway: Gateway;
  ddb: DynamoDBDocumentClient;
  sqs: SQSClient;
  functions: Record<HandlerName, LocalFunction>;
  /** Route key → the function the gateway invokes for it. */
  routes: Record<string, HandlerName>;
  poller: Poller;
  /**
   * Closes the gateway (every socket gets 1001) and starts it again on the same port and API id,
   * keeping tables, queues and functions: what clients see when API Gateway drops them all.
   * `whileDown` runs in between, e.g. to watch clients fail to reconnect.
   */
  restartGateway(opts?: { whileDown?: () => Promise<unknown> }): Promise<Gateway>;
  /** What the stack's traffic would be billed for on AWS, counted since it started (src/local/usage.ts). */
  usage: UsageMeter;
  close(): Promise<void>;
}

/** How long shutdown waits for invocations under way before it ends them (bounded drain). */
const SHUTDOWN_GRACE_MS = 5000;

/** Parallel pollers of the event source mapping, as Lambda starts with a few. */
const EVENT_SOURCE_POLLERS = 2;

const silent: LineLogger = { info: () => {}, warn: () => {}, error: () => {} };

export async function startLocalStack(opts: LocalStackOptions = {}): Promise<LocalStack> {
  const stage = opts.stage ?? 'local';
  const host = opts.host ?? DEFAULT_HOST;
  const region = opts.region ?? DEFAULT_REGION;
  const names = resourceNames(stage);
  const logger = opts.logger ?? silent;
  const settings = opts.settings ?? DEFAULT_SETTINGS;
  const cleanups: Array<() => Promise<void>> = [];
  const close = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  };

  const usage = new UsageMeter();
  // Each write also goes to every index of its table (hermes rows carry all their index keys).
  // A local index is written and charged like a global one (the history mark, at the top of a
  // stream, has no frame id and is not in it: that one write is counted one unit high).
  const indexCounts = new Map((Object.keys(TABLES) as Array<keyof typeof TABLES>).map((k) => [names.table(k), TABLES[k].indexes.length + (TABLES[k].localIndexes?.length ?? 0)]));

  try {
    if (opts.dataDir) mkdirSync(opts.dataDir, { recursive: true });
    const pollers = Math.max(1, opts.pollers ?? EVENT_SOURCE_POLLERS);
    const dynamo: LocalDynamo = await startDynamo({
      host,
      port: opts.ports?.dynamodb ?? DEFAULT_PORTS.dynamodb,
      path: opts.dataDir ? path.join(opts.dataDir, 'dynamodb') : undefined,
      meter: { usage, indexesOf: (table) => indexCounts.get(table) ?? 0 },
    });
    cleanups.push(() => dynamo.close());
    const sqsServer: LocalSqs = await startSqs({
      host,
      port: opts.ports?.sqs ?? DEFAULT_PORTS.sqs,
      region,
      // Persisted mode keeps the queues too, not only the tables.
      persistFile: opts.dataDir ? path.join(opts.dataDir, 'sqs', 'queues.json') : undefined,
      onError: (m) => logger.error(`local SQS: ${m}`),
      meter: usage,
    });
    cleanups.push(() => sqsServer.close());

    const ssm = await startSsm({ host, region, file: opts.parameterFile });
    cleanups.push(() => ssm.close());
    const keysParameter = names.parameter('signingKeys');
    if (!ssm.get(keysParameter)) ssm.put(keysParameter, serializeKeyRing(newKeyRing()));
    const signingKeys = cachedKeySource(
      async () => parseKeyRing((await getParameter({ name: keysParameter, region, endpoint: ssm.endpoint, credentials: LOCAL_CREDENTIALS })).value, keysParameter),
      { maxAgeMs: 0 },
    );

    const ddb = await createDocumentClient({ region, endpoint: dynamo.endpoint });
    const sqs = await createSqsClient({ region, endpoint: sqsServer.endpoint });
    cleanups.push(async () => {
      ddb.destroy();
      sqs.destroy();
    });
    await ensureTables(ddb, names);
    const queues = await ensureQueues(
      sqs,
      names,
      { visibilityTimeoutSeconds: opts.visibilityTimeoutSeconds, maxReceiveCount: opts.maxReceiveCount },
      queueDefinitions(settings),
    );
    const restoredMessages = sqsServer.restoreQueues();
    if (restoredMessages) logger.info(`local SQS: ${restoredMessages} messages restored from the last run`);

    // The gateway needs the functions and the functions need the gateway's port (for
    // @connections), so routes call through this table, filled right after the gateway starts.
    const functions = {} as Record<HandlerName, LocalFunction>;
    // Closed after the gateway (its last $disconnects need them), before the tables go.
    cleanups.push(async () => {
      await Promise.all(Object.values(functions).map((f) => f.close(SHUTDOWN_GRACE_MS)));
    });
    const via = (h: HandlerName) => (event: unknown, o?: { signal?: AbortSignal }) => functions[h].invoke(event, o);
    const routes: Record<string, HandlerName> = Object.fromEntries(ROUTES.map((r) => [r.routeKey, r.handler]));
    const gatewayOptions = (port: number, apiId?: string) => ({
      host,
      port,
      stage,
      region,
      apiId,
      authorizer: via(AUTHORIZER.handler),
      identitySources: [...AUTHORIZER.identitySource],
      routes: Object.fromEntries(ROUTES.map((r) => [r.routeKey, via(r.handler)])),
      idleTimeoutMs: opts.idleTimeoutMs,
      maxLifetimeMs: opts.maxLifetimeMs,
      httpHandler: opts.httpHandler,
      log: opts.gatewayLog,
      meter: usage,
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

    // Each function gets what its deployed twin gets (the definition's list for it), plus what
    // the Lambda runtime would set and the local endpoints (which the fault suite may proxy).
    const real = { dynamodb: dynamo.endpoint, management: gateway.managementEndpoint };
    const reach = { ...real, ...opts.functionEndpoints?.(real) };
    const values: Partial<Record<EnvSetting, string>> = {
      ...nameSettings(names),
      keyCacheSeconds: opts.keyCacheSeconds !== undefined ? String(opts.keyCacheSeconds) : undefined,
      queueUrl: queues.queueUrl,
      dlqUrl: queues.dlqUrl,
      managementEndpoint: reach.management,
      fanoutConcurrency: (opts.fanoutConcurrency ?? settings.fanoutConcurrency) !== undefined ? String(opts.fanoutConcurrency ?? settings.fanoutConcurrency) : undefined,
      shardSize: (opts.shardSize ?? settings.shardSize) !== undefined ? String(opts.shardSize ?? settings.shardSize) : undefined,
      connectGraceSeconds: opts.connectGraceSeconds !== undefined ? String(opts.connectGraceSeconds) : undefined,
      historyRetentionSeconds: opts.historyRetentionSeconds !== undefined ? String(opts.historyRetentionSeconds) : undefined,
      historyMaxPerStream: opts.historyMaxPerStream !== undefined ? String(opts.historyMaxPerStream) : undefined,
    };
    for (const [k, v] of Object.entries(opts.tunables ?? {}) as Array<[EnvSetting, string]>) values[k] ??= v;
    const runtimeEnv: Env = { AWS_REGION: region, AWS_ENDPOINT_URL_DYNAMODB: reach.dynamodb, AWS_ENDPOINT_URL_SQS: sqsServer.endpoint, AWS_ENDPOINT_URL_SSM: ssm.endpoint };
    for (const h of HANDLER_NAMES) {
      const readable = (line: unknown) => (opts.onHandlerLine?.(h, String(line)), readableHandlerLine(h, String(line)));
      const fn = await loadFunction(h, {
        functionName: names.fn(h),
        bundleDir: opts.bundleDir,
        env: { ...runtimeEnv, ...functionEnvironment(h, values) },
        region,
        timeoutMs: (opts.timeoutSeconds?.[h] ?? settings.functions[h].timeoutSeconds) * 1000,
        memoryMb: settings.functions[h].memoryMb,
        // Each poller's batch is one invocation, as Lambda scales the function with the pollers.
        concurrency: h === EVENT_SOURCE.handler ? Math.max(DEFAULT_CONCURRENCY, pollers) : undefined,
        logger: { info: (l) => logger.info(readable(l)), warn: (l) => logger.warn(readable(l)), error: (l) => logger.error(readable(l)) },
      });
      // The pool stays itself (its close, warm, reload); only its invoke is metered.
      const invoke = fn.invoke.bind(fn);
      fn.invoke = usage.meterInvoke(h, fn.config.memoryMb, invoke);
      functions[h] = fn;
    }

    // A warm instance behind $disconnect, so the $disconnects of a shutdown under load do not wait
    // for a worker thread to start; the other functions start on first use, as cold starts.
    const disconnectHandler = routes.$disconnect;
    if (disconnectHandler) functions[disconnectHandler].warm();

    const poller = startPoller({
      concurrency: pollers,
      sqs,
      queueUrl: queues.queueUrl,
      queueArn: queues.queueArn,
      region,
      fn: functions[EVENT_SOURCE.handler],
      batchSize: opts.batchSize ?? settings.batchSize,
      reportBatchItemFailures: EVENT_SOURCE.reportBatchItemFailures,
      wake: (listener) => sqsServer.onMessagesAvailable(listener),
      logger,
    });
    // Shutdown, first step: stop taking work on both doors at once. The gateway refuses new
    // handshakes, closes every socket and runs $disconnect while the tables are still up; the
    // poller stops receiving and lets a batch in flight finish (its posts now get 410s, so it
    // ends quickly). Then the functions, then the servers (the cleanups above, in reverse).
    cleanups.push(async () => {
      await Promise.all([poller.stop(SHUTDOWN_GRACE_MS), gateway.close()]);
    });

    return {
      stage,
      region,
      names,
      endpoints: { dynamodb: dynamo.endpoint, sqs: sqsServer.endpoint, ssm: ssm.endpoint, management: gateway.managementEndpoint, websocket: gateway.url },
      queues,
      signingKeys,
      restoredMessages,
      get gateway() {
        return gateway;
      },
      ddb,
      sqs,
      functions,
      routes,
      poller,
      restartGateway,
      usage,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
