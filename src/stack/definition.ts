/**
 * What a hermes stage is, declared once: its functions (source, size, environment, access),
 * the WebSocket API (route selection, authorizer, routes), the queues and the event source
 * that feeds send-message. `hermes deploy` turns this into AWS resources (src/deploy/spec.ts),
 * `hermes dev` wires the same things on this machine (src/local/stack.ts), and the build
 * bundles the functions listed here (scripts/build.mjs). The tables' schemas are in
 * ./tables.ts and resource names in ./names.ts.
 *
 * To add a function, a route, a table or a queue, declare it here (docs/architecture.md,
 * "How to add …"); test/stack-definition.test.ts checks that the local stack and the deploy
 * plan agree with this module.
 *
 * Pure data and pure functions: no imports from the rest of hermes, nothing runs at import.
 */

export const HANDLER_NAMES = ['authorizer', 'connect', 'disconnect', 'send-message', 'resume', 'default'] as const;
export type HandlerName = (typeof HANDLER_NAMES)[number];

export type TableKey = 'connections' | 'tokens' | 'history';
/** The secondary indexes a function may be granted (names in ./names.ts, schemas in ./tables.ts). */
export type IndexKey = 'room' | 'user' | 'frame';
export type QueueKey = 'messages' | 'dlq';

/**
 * The settings a function reads from its environment (src/core/handler-env.ts parses them).
 * The variable names are the contract between a bundle and whoever runs it: AWS sets them from
 * the function's configuration, the local stack passes them to `createHandler(env)`.
 */
export const ENV = {
  stage: 'HERMES_STAGE',
  connectionsTable: 'HERMES_CONNECTIONS_TABLE',
  tokensTable: 'HERMES_TOKENS_TABLE',
  queueUrl: 'HERMES_QUEUE_URL',
  dlqUrl: 'HERMES_DLQ_URL',
  jwtSecret: 'HERMES_JWT_SECRET',
  managementEndpoint: 'HERMES_MANAGEMENT_ENDPOINT',
  fanoutConcurrency: 'HERMES_FANOUT_CONCURRENCY',
  shardSize: 'HERMES_SHARD_SIZE',
  connectGraceSeconds: 'HERMES_CONNECT_GRACE_SECONDS',
  historyTable: 'HERMES_HISTORY_TABLE',
  historyRetentionSeconds: 'HERMES_HISTORY_RETENTION_SECONDS',
  historyMaxPerStream: 'HERMES_HISTORY_MAX_PER_STREAM',
} as const;
export type EnvSetting = keyof typeof ENV;

/** Environment values that are secrets: never printed, never shown in a plan's diff. */
export const SECRET_SETTINGS: readonly EnvSetting[] = ['jwtSecret'];

/**
 * What a function's role may do, as IAM grants it (src/deploy/policies.ts renders each entry
 * on the stage's own ARNs). Every function may also write its own log group.
 */
export type Access =
  | { sid: string; table: TableKey; index?: IndexKey; actions: readonly string[]; why: string }
  | { sid: string; queues: readonly QueueKey[]; actions: readonly string[]; why: string }
  /** `execute-api:ManageConnections` on POST @connections of the stage. */
  | { sid: string; postToConnections: true; why: string };

export interface FunctionDefinition {
  /** The handler's source; built to dist/lambdas/<name>/index.mjs, which deploy zips. */
  source: string;
  memoryMb: number;
  timeoutSeconds: number;
  /** Settings the function is always given. */
  env: readonly EnvSetting[];
  /** Settings it is given only when a stage sets them (otherwise the handler's default). */
  tunables?: readonly EnvSetting[];
  access: readonly Access[];
}

const TABLE_NAMES: readonly EnvSetting[] = ['stage', 'connectionsTable', 'tokensTable'];
/** How long and how much history a stage keeps (src/core/history.ts); unset = the handlers' defaults. */
const HISTORY_TUNABLES: readonly EnvSetting[] = ['historyRetentionSeconds', 'historyMaxPerStream'];

/**
 * Memory also buys CPU on Lambda. The authorizer runs a bcrypt check (cost 10) on every
 * connect, which is CPU-bound: 1024 MB keeps it well under 100 ms. send-message fans out to
 * many sockets at once and gets more time so a large room finishes in one invocation. resume
 * posts a replay one frame at a time, in order, so it gets the same time for a long page.
 */
export const FUNCTIONS: Record<HandlerName, FunctionDefinition> = {
  authorizer: {
    source: 'lambdas/authorizer.ts',
    memoryMb: 1024,
    timeoutSeconds: 10,
    env: [...TABLE_NAMES, 'jwtSecret'],
    access: [{ sid: 'ReadTokens', table: 'tokens', actions: ['dynamodb:GetItem'], why: "verifyToken reads the token's row (bcrypt hash, revocation) by key" }],
  },
  connect: {
    source: 'lambdas/connect.ts',
    memoryMb: 256,
    timeoutSeconds: 10,
    env: TABLE_NAMES,
    access: [{ sid: 'RecordConnection', table: 'connections', actions: ['dynamodb:PutItem'], why: 'the row that fan-out finds the connection by' }],
  },
  disconnect: {
    source: 'lambdas/disconnect.ts',
    memoryMb: 256,
    timeoutSeconds: 10,
    env: TABLE_NAMES,
    access: [{ sid: 'ForgetConnection', table: 'connections', actions: ['dynamodb:DeleteItem'], why: 'removes the row of a closed socket' }],
  },
  'send-message': {
    source: 'lambdas/send-message.ts',
    memoryMb: 512,
    timeoutSeconds: 30,
    env: [...TABLE_NAMES, 'historyTable', 'queueUrl', 'dlqUrl', 'managementEndpoint'],
    tunables: ['fanoutConcurrency', 'shardSize', 'connectGraceSeconds', ...HISTORY_TUNABLES],
    access: [
      { sid: 'QueryRoom', table: 'connections', index: 'room', actions: ['dynamodb:Query'], why: "fan-out reads a room's connections from the room index" },
      { sid: 'QueryUser', table: 'connections', index: 'user', actions: ['dynamodb:Query'], why: "a message to one user reads that user's connections from the user index" },
      {
        sid: 'WriteHistory',
        table: 'history',
        actions: ['dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:BatchWriteItem'],
        why: 'assigns each message its sequence number: reads the head, puts the message at head + 1, raises the high-water mark, trims past the cap',
      },
      { sid: 'FindFrame', table: 'history', index: 'frame', actions: ['dynamodb:Query'], why: 'a redelivered message finds the sequence number it already has by its frame id' },
      { sid: 'PruneConnections', table: 'connections', actions: ['dynamodb:DeleteItem'], why: 'connections that answer 410 Gone are pruned during fan-out' },
      {
        sid: 'ConsumeQueue',
        queues: ['messages'],
        actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ChangeMessageVisibility'],
        why: "what the SQS event-source mapping does with the function's role",
      },
      { sid: 'Enqueue', queues: ['messages', 'dlq'], actions: ['sqs:SendMessage'], why: 'shards of large rooms go back on the queue; malformed messages go to the DLQ' },
      { sid: 'FanOut', postToConnections: true, why: 'delivers each frame with PostToConnection' },
    ],
  },
  resume: {
    source: 'lambdas/resume.ts',
    memoryMb: 256,
    timeoutSeconds: 30,
    env: [...TABLE_NAMES, 'historyTable', 'managementEndpoint'],
    tunables: HISTORY_TUNABLES,
    access: [
      { sid: 'ReadHistory', table: 'history', actions: ['dynamodb:Query', 'dynamodb:GetItem'], why: "reads the connection's room and user history after the sequence number it asks for" },
      { sid: 'Replay', postToConnections: true, why: 'posts the missed frames, then a summary, to the connection that asked' },
    ],
  },
  default: {
    source: 'lambdas/default.ts',
    memoryMb: 256,
    timeoutSeconds: 10,
    env: [...TABLE_NAMES, 'managementEndpoint'],
    access: [{ sid: 'AnswerSender', postToConnections: true, why: 'answers a bad request with an error frame to its sender' }],
  },
};

/** Every function runs the same way: one ESM bundle exporting `handler`. */
export const RUNTIME = 'nodejs22.x';
export const ENTRY = 'index.handler';

export const API = { protocol: 'WEBSOCKET', routeSelectionExpression: '$request.body.action' } as const;

/** The REQUEST authorizer on `$connect`: the token comes from `?token=` (docs/api-gateway-websocket.md §2.2). */
export const AUTHORIZER = { handler: 'authorizer', type: 'REQUEST', identitySource: ['route.request.querystring.token'] } as const satisfies {
  handler: HandlerName;
  type: 'REQUEST';
  identitySource: readonly string[];
};

export interface RouteDefinition {
  routeKey: string;
  handler: HandlerName;
  /** Whether the route runs the authorizer (only `$connect` can, for WebSocket APIs). */
  authorizer: boolean;
}

export const ROUTES: readonly RouteDefinition[] = [
  { routeKey: '$connect', handler: 'connect', authorizer: true },
  { routeKey: '$disconnect', handler: 'disconnect', authorizer: false },
  { routeKey: 'sendMessage', handler: 'send-message', authorizer: false },
  { routeKey: 'resume', handler: 'resume', authorizer: false },
  { routeKey: '$default', handler: 'default', authorizer: false },
];

export interface QueueDefinition {
  /** The resource name is `hermes-<stage>-<suffix>`. */
  suffix: string;
  /** How long a received message stays hidden; unset = the SQS default (30 s). */
  visibilityTimeoutSeconds?: number;
  /** How long SQS keeps a message; unset = the SQS default (4 days). */
  retentionSeconds?: number;
  /** Messages received this many times without being deleted move to `queue`. */
  deadLetter?: { queue: QueueKey; maxReceiveCount: number };
}

/** SQS's longest retention: a dead letter must outlive the time it takes someone to look at it. */
const FOURTEEN_DAYS = 14 * 24 * 3600;

/**
 * The queue's visibility timeout is 6 × send-message's timeout, as AWS advises for a queue that
 * feeds a function (docs/api-gateway-websocket.md §6), so a record is not handed to a second
 * invocation while the first may still be working on it.
 */
export const QUEUES: Record<QueueKey, QueueDefinition> = {
  dlq: { suffix: 'messages-dlq', retentionSeconds: FOURTEEN_DAYS },
  messages: {
    suffix: 'messages',
    visibilityTimeoutSeconds: 6 * FUNCTIONS['send-message'].timeoutSeconds,
    deadLetter: { queue: 'dlq', maxReceiveCount: 5 },
  },
};

/** Queues in creation order: a dead-letter queue before the queue whose redrive names it. */
export const QUEUE_ORDER: readonly QueueKey[] = ['dlq', 'messages'];

/** The SQS trigger of send-message (an event-source mapping on AWS, a poller locally). */
export const EVENT_SOURCE = {
  queue: 'messages',
  handler: 'send-message',
  batchSize: 10,
  /** Only the records the handler lists in `batchItemFailures` are retried. */
  reportBatchItemFailures: true,
} as const satisfies { queue: QueueKey; handler: HandlerName; batchSize: number; reportBatchItemFailures: boolean };

/**
 * A function's environment from the values of its settings: every setting it is always given
 * (a missing value is a wiring bug and throws), and the tunables that have a value.
 */
export function functionEnvironment(h: HandlerName, values: Partial<Record<EnvSetting, string>>): Record<string, string> {
  const fn = FUNCTIONS[h];
  const env: Record<string, string> = {};
  for (const s of fn.env) {
    const v = values[s];
    if (v === undefined) throw new Error(`No value for ${ENV[s]}, which function ${h} needs.`);
    env[ENV[s]] = v;
  }
  for (const s of fn.tunables ?? []) {
    const v = values[s];
    if (v !== undefined) env[ENV[s]] = v;
  }
  return env;
}

/** The attributes hermes manages on a queue, as SQS spells them; `arnOf` names a queue's ARN. */
export function sqsAttributes(q: QueueDefinition, arnOf: (key: QueueKey) => string): Record<string, string> {
  return {
    ...(q.visibilityTimeoutSeconds !== undefined ? { VisibilityTimeout: String(q.visibilityTimeoutSeconds) } : {}),
    ...(q.retentionSeconds !== undefined ? { MessageRetentionPeriod: String(q.retentionSeconds) } : {}),
    ...(q.deadLetter
      ? { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: arnOf(q.deadLetter.queue), maxReceiveCount: q.deadLetter.maxReceiveCount }) }
      : {}),
  };
}
