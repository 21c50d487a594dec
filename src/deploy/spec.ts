/**
 * The stage definition (src/stack/definition.ts) as AWS resources: names, ARNs, attributes,
 * environment values and tags. `desiredState` is pure; the plan compares its result with what
 * AWS reports.
 */
import {
  API, AUTHORIZER, ENTRY, EVENT_SOURCE, FUNCTIONS, HANDLER_NAMES, QUEUES, QUEUE_ORDER, ROUTES, RUNTIME, functionEnvironment,
  sqsAttributes, type EnvSetting, type HandlerName,
} from '../stack/definition.js';
import { nameSettings, type ResourceNames } from '../stack/names.js';
import { TABLES, TABLE_KEYS, TTL_ATTRIBUTE, createTableInput, keySchemaName } from '../stack/tables.js';
import { arnsFor, type KnownIds, type StageArns } from './arns.js';
import { LAMBDA_TRUST_POLICY, rolePolicy } from './policies.js';
import type { DesiredState, QueueSpec, TableSpec, Tags } from './types.js';

export const PERMISSION_ID = 'hermes-apigateway';

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
  /** Tunable settings the stage sets (src/config/resolve.ts stageTunables); functions list which they take. */
  tunables?: Partial<Record<EnvSetting, string>>;
}

/** The value of every setting a deployed function may be given. */
function settingValues(input: DesiredInput, arns: StageArns): Partial<Record<EnvSetting, string>> {
  const { names } = input;
  return {
    ...input.tunables,
    ...nameSettings(names),
    jwtSecret: input.jwtSecret,
    queueUrl: arns.queueUrl,
    dlqUrl: arns.dlqUrl,
    // Set, rather than derived from each event, so a custom domain in front of the API still
    // reaches @connections on the API's own endpoint.
    managementEndpoint: arns.managementEndpoint,
  };
}

/** The comparable facts of a table of the definition (src/stack/tables.ts). */
export function tableSpec(key: keyof typeof TABLES, names: ResourceNames, tags: Tags): TableSpec {
  const definition = createTableInput(key, names);
  const t = TABLES[key];
  return {
    name: definition.TableName!,
    hashKey: t.hash,
    rangeKey: t.range,
    indexes: Object.fromEntries((definition.GlobalSecondaryIndexes ?? []).map((i) => [i.IndexName!, keySchemaName(i.KeySchema)])),
    billingMode: 'PAY_PER_REQUEST',
    ttlAttribute: TTL_ATTRIBUTE,
    tags,
    definition,
  };
}

/** The functions API Gateway invokes (and so may invoke): the authorizer and every route's. */
const invokedByApi = new Set<HandlerName>([AUTHORIZER.handler, ...ROUTES.map((r) => r.handler)]);

export function desiredState(input: DesiredInput): DesiredState {
  const { names, ids } = input;
  const arns = arnsFor(names, ids);
  const tags = stageTags(names.stage);
  const values = settingValues(input, arns);
  const queues: QueueSpec[] = QUEUE_ORDER.map((key) => ({
    name: names.queueName(key),
    attributes: sqsAttributes(QUEUES[key], (dl) => arns.queue(names.queueName(dl))),
    tags,
  }));
  return {
    tables: TABLE_KEYS.map((key) => tableSpec(key, names, tags)),
    queues,
    api: { name: names.api, routeSelectionExpression: API.routeSelectionExpression, tags },
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
      memory: FUNCTIONS[h].memoryMb,
      timeout: FUNCTIONS[h].timeoutSeconds,
      env: functionEnvironment(h, values),
      codeSha256: input.codeSha256[h],
      tags,
    })),
    authorizer: { name: names.fn(AUTHORIZER.handler), uri: arns.invokeUri(AUTHORIZER.handler), identitySource: [...AUTHORIZER.identitySource] },
    integrations: [...new Set(ROUTES.map((r) => r.handler))].map((handler) => ({ handler, uri: arns.invokeUri(handler) })),
    routes: ROUTES.map((r) => ({ ...r })),
    permissions: HANDLER_NAMES.filter((h) => invokedByApi.has(h)).map((h) => ({ handler: h, statementId: PERMISSION_ID, sourceArn: arns.apiSource })),
    stage: { name: names.stage, tags },
    mapping: {
      handler: EVENT_SOURCE.handler,
      queueArn: arns.queue(names.queueName(EVENT_SOURCE.queue)),
      batchSize: EVENT_SOURCE.batchSize,
      responseTypes: EVENT_SOURCE.reportBatchItemFailures ? ['ReportBatchItemFailures'] : [],
      tags,
    },
  };
}
