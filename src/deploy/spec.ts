/**
 * What a deployed stage consists of, as data: sizes, timeouts, environment, routes, tags.
 * `desiredState` is pure; the plan compares its result with what AWS reports.
 */
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { HANDLER_NAMES, type HandlerName, type ResourceNames } from '../core/names.js';
import { ENV } from '../core/handler-env.js';
import { TTL_ATTRIBUTE, keySchemaName, tableDefinitions } from '../core/tables.js';
import { arnsFor, type KnownIds } from './arns.js';
import { LAMBDA_TRUST_POLICY, rolePolicy } from './policies.js';
import type { DesiredState, TableSpec, Tags } from './types.js';

export const RUNTIME = 'nodejs22.x';
export const ENTRY = 'index.handler';
/** Same name as in lambdas/send-message.ts, which reads it. */

/**
 * Memory also buys CPU on Lambda. The authorizer runs a bcrypt check (cost 10) on every
 * connect, which is CPU-bound: 1024 MB keeps it well under 100 ms. send-message fans out to
 * many sockets at once and gets more time so a large room finishes in one invocation.
 */
export const FUNCTION_SIZES: Record<HandlerName, { memory: number; timeout: number }> = {
  authorizer: { memory: 1024, timeout: 10 },
  connect: { memory: 256, timeout: 10 },
  disconnect: { memory: 256, timeout: 10 },
  'send-message': { memory: 512, timeout: 30 },
  default: { memory: 256, timeout: 10 },
};

/** AWS: the queue's visibility timeout should be at least 6 × the consuming function's timeout. */
export const VISIBILITY_TIMEOUT = 6 * FUNCTION_SIZES['send-message'].timeout;
export const MAX_RECEIVE_COUNT = 5;
export const BATCH_SIZE = 10;
export const TOKEN_QUERY_SOURCE = 'route.request.querystring.token';
export const PERMISSION_ID = 'hermes-apigateway';

export const ROUTES: Array<{ routeKey: string; handler: HandlerName; authorizer: boolean }> = [
  { routeKey: '$connect', handler: 'connect', authorizer: true },
  { routeKey: '$disconnect', handler: 'disconnect', authorizer: false },
  { routeKey: 'sendMessage', handler: 'send-message', authorizer: false },
  { routeKey: '$default', handler: 'default', authorizer: false },
];

export const STAGE_TAG = 'hermes:stage';
export const MANAGED_TAG = 'hermes:managed';

export function stageTags(stage: string): Tags {
  return { [STAGE_TAG]: stage, [MANAGED_TAG]: 'true' };
}

export interface DesiredInput {
  names: ResourceNames;
  ids: KnownIds;
  codeSha256: Record<HandlerName, string>;
  /** The authorizer's signing key: the one already deployed, or a new one on first deploy. */
  jwtSecret: string;
}

function environment(h: HandlerName, input: DesiredInput, arns: ReturnType<typeof arnsFor>): Record<string, string> {
  const { names } = input;
  const env: Record<string, string> = {
    [ENV.stage]: names.stage,
    [ENV.connectionsTable]: names.connectionsTable,
    [ENV.tokensTable]: names.tokensTable,
  };
  if (h === 'authorizer') env[ENV.jwtSecret] = input.jwtSecret;
  if (h === 'send-message') {
    env[ENV.queueUrl] = arns.queueUrl;
    env[ENV.dlqUrl] = arns.dlqUrl;
  }
  // Set, rather than derived from each event, so a custom domain in front of the API still
  // reaches @connections on the API's own endpoint.
  if (h === 'send-message' || h === 'default') env[ENV.managementEndpoint] = arns.managementEndpoint;
  return env;
}

/** The comparable facts of a table definition shared with the local stack (src/core/tables.ts). */
export function tableSpec(definition: CreateTableCommandInput, tags: Tags): TableSpec {
  const key = (schema: CreateTableCommandInput['KeySchema'], type: 'HASH' | 'RANGE') =>
    schema?.find((k) => k.KeyType === type)?.AttributeName;
  return {
    name: definition.TableName!,
    hashKey: key(definition.KeySchema, 'HASH')!,
    rangeKey: key(definition.KeySchema, 'RANGE'),
    indexes: Object.fromEntries((definition.GlobalSecondaryIndexes ?? []).map((i) => [i.IndexName!, keySchemaName(i.KeySchema)])),
    billingMode: 'PAY_PER_REQUEST',
    ttlAttribute: TTL_ATTRIBUTE,
    tags,
    definition,
  };
}

export function desiredState(input: DesiredInput): DesiredState {
  const { names, ids } = input;
  const arns = arnsFor(names, ids);
  const tags = stageTags(names.stage);
  return {
    tables: tableDefinitions(names).map((definition) => tableSpec(definition, tags)),
    queues: [
      { name: names.dlq, attributes: {}, tags },
      {
        name: names.queue,
        attributes: {
          VisibilityTimeout: String(VISIBILITY_TIMEOUT),
          RedrivePolicy: JSON.stringify({ deadLetterTargetArn: arns.queue(names.dlq), maxReceiveCount: MAX_RECEIVE_COUNT }),
        },
        tags,
      },
    ],
    api: { name: names.api, routeSelectionExpression: '$request.body.action', tags },
    roles: HANDLER_NAMES.map((h) => ({
      handler: h,
      name: names.role(h),
      trustPolicy: LAMBDA_TRUST_POLICY,
      policyName: `hermes-${h}`,
      policy: rolePolicy(h, names, arns),
      tags,
    })),
    functions: HANDLER_NAMES.map((h) => ({
      handler: h,
      name: names.fn(h),
      roleArn: arns.role(h),
      runtime: RUNTIME,
      entry: ENTRY,
      ...FUNCTION_SIZES[h],
      env: environment(h, input, arns),
      codeSha256: input.codeSha256[h],
      tags,
    })),
    authorizer: { name: names.fn('authorizer'), uri: arns.invokeUri('authorizer'), identitySource: [TOKEN_QUERY_SOURCE] },
    integrations: ROUTES.map((r) => ({ handler: r.handler, uri: arns.invokeUri(r.handler) })),
    routes: ROUTES.map((r) => ({ ...r })),
    permissions: HANDLER_NAMES.map((h) => ({ handler: h, statementId: PERMISSION_ID, sourceArn: arns.apiSource })),
    stage: { name: names.stage, tags },
    mapping: {
      handler: 'send-message',
      queueArn: arns.queue(names.queue),
      batchSize: BATCH_SIZE,
      responseTypes: ['ReportBatchItemFailures'],
      tags,
    },
  };
}
