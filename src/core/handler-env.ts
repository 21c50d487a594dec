/**
 * The contract between a Lambda bundle and whoever runs it. On AWS the values come from the
 * function's environment variables (set by `hermes deploy`); the local stack passes the same
 * variables to `createHandler(env)` so that several stacks can run in one process.
 */
import { resourceNames } from '../stack/names.js';
import { ENV } from '../stack/definition.js';
import { CONNECT_GRACE_SECONDS, DEFAULT_HISTORY_MAX_PER_STREAM, DEFAULT_HISTORY_RETENTION_SECONDS, DEFAULT_REGION, DEFAULT_STAGE } from './defaults.js';

export type Env = Record<string, string | undefined>;

export interface HandlerSettings {
  stage: string;
  region: string;
  connectionsTable: string;
  tokensTable: string;
  historyTable: string;
  /** How long messages are kept for replay; 0: the stage keeps no history (frames carry no seq). */
  historyRetentionSeconds: number;
  /** Messages kept per stream (room or user); 0: no cap. */
  historyMaxPerStream: number;
  queueUrl?: string;
  /** Where send-message moves a malformed record, with the reason attached. */
  dlqUrl?: string;
  /** HS512 key for the tokens; only the authorizer and token issuers need it. */
  jwtSecret?: string;
  /** `@connections` endpoint incl. stage; when absent it is derived from the WebSocket event. */
  managementEndpoint?: string;
  dynamodbEndpoint?: string;
  sqsEndpoint?: string;
  /** How many PostToConnection calls run at once during a fan-out. */
  fanoutConcurrency: number;
  /** Rooms larger than this are split into shards re-enqueued for parallel delivery (0 = never). */
  shardSize: number;
  /** Fan-out keeps rows younger than this that answer 410: their `$connect` may be running. */
  connectGraceSeconds: number;
}


export const DEFAULT_FANOUT_CONCURRENCY = 32;
export const DEFAULT_SHARD_SIZE = 2000;

function positiveInt(env: Env, name: string, fallback: number, min = 1): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be a whole number >= ${min}, got "${raw}"`);
  return n;
}

export function handlerSettings(env: Env): HandlerSettings {
  const stage = env[ENV.stage] || DEFAULT_STAGE;
  const names = resourceNames(stage);
  return {
    stage,
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || DEFAULT_REGION,
    connectionsTable: env[ENV.connectionsTable] || names.connectionsTable,
    tokensTable: env[ENV.tokensTable] || names.tokensTable,
    historyTable: env[ENV.historyTable] || names.historyTable,
    historyRetentionSeconds: positiveInt(env, ENV.historyRetentionSeconds, DEFAULT_HISTORY_RETENTION_SECONDS, 0),
    historyMaxPerStream: positiveInt(env, ENV.historyMaxPerStream, DEFAULT_HISTORY_MAX_PER_STREAM, 0),
    queueUrl: env[ENV.queueUrl] || undefined,
    dlqUrl: env[ENV.dlqUrl] || undefined,
    jwtSecret: env[ENV.jwtSecret] || undefined,
    managementEndpoint: env[ENV.managementEndpoint] || undefined,
    dynamodbEndpoint: env.AWS_ENDPOINT_URL_DYNAMODB || env.AWS_ENDPOINT_URL || undefined,
    sqsEndpoint: env.AWS_ENDPOINT_URL_SQS || env.AWS_ENDPOINT_URL || undefined,
    fanoutConcurrency: positiveInt(env, ENV.fanoutConcurrency, DEFAULT_FANOUT_CONCURRENCY),
    shardSize: positiveInt(env, ENV.shardSize, DEFAULT_SHARD_SIZE, 0),
    connectGraceSeconds: positiveInt(env, ENV.connectGraceSeconds, CONNECT_GRACE_SECONDS, 0),
  };
}
