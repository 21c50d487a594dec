/**
 * Observe: what AWS has for a stage, read with describe/get/list calls only, normalised into
 * ObservedState (parsed policies, tag maps). A missing resource is simply absent.
 */
import { TABLE_KEYS, keySchemaName } from '../stack/tables.js';
import { DescribeTableCommand, DescribeTimeToLiveCommand, ListTagsOfResourceCommand } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, GetQueueUrlCommand, ListQueueTagsCommand } from '@aws-sdk/client-sqs';
import { GetRoleCommand, GetRolePolicyCommand, ListRolePoliciesCommand } from '@aws-sdk/client-iam';
import { GetFunctionCommand, GetPolicyCommand, ListEventSourceMappingsCommand } from '@aws-sdk/client-lambda';
import {
  GetApisCommand, GetAuthorizerCommand, GetIntegrationsCommand, GetRoutesCommand, GetStageCommand, type Api,
} from '@aws-sdk/client-apigatewayv2';
import { GetParameterCommand, ListTagsForResourceCommand } from '@aws-sdk/client-ssm';
import { DescribeLogGroupsCommand, ListTagsForResourceCommand as ListLogTagsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { type ResourceNames } from '../stack/names.js';
import { parseKeyRing } from '../core/signing-keys.js';
import { EVENT_SOURCE, HANDLER_NAMES, QUEUE_ORDER, ROUTES } from '../stack/definition.js';
import { AUTHORIZER_TAG } from './spec.js';
import { NOT_FOUND, unlessMissing, type Aws } from './aws.js';
import type { ObservedApi, ObservedFunction, ObservedLogGroup, ObservedParameter, ObservedQueue, ObservedRole, ObservedState, ObservedTable, Tags } from './types.js';

const tagMap = (list: Array<{ Key?: string; Value?: string }> | undefined): Tags =>
  Object.fromEntries((list ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));

const decodePolicy = (doc: string | undefined): unknown => (doc ? JSON.parse(decodeURIComponent(doc)) : undefined);

export async function observeTable(aws: Aws, name: string): Promise<ObservedTable | undefined> {
  const send = aws.dynamodb.at(`table ${name}`);
  const t = (await unlessMissing(send(new DescribeTableCommand({ TableName: name })), NOT_FOUND))?.Table;
  if (!t?.TableArn) return undefined;
  const [ttl, tags] = await Promise.all([
    send(new DescribeTimeToLiveCommand({ TableName: name })),
    send(new ListTagsOfResourceCommand({ ResourceArn: t.TableArn })),
  ]);
  const key = (schema: typeof t.KeySchema, type: string) => schema?.find((k) => k.KeyType === type)?.AttributeName;
  return {
    arn: t.TableArn,
    status: t.TableStatus ?? 'UNKNOWN',
    hashKey: key(t.KeySchema, 'HASH'),
    rangeKey: key(t.KeySchema, 'RANGE'),
    indexes: Object.fromEntries(
      (t.GlobalSecondaryIndexes ?? []).map((i) => [
        i.IndexName ?? '',
        { keySchema: keySchemaName(i.KeySchema), projection: i.Projection?.ProjectionType, status: i.IndexStatus },
      ]),
    ),
    billingMode: t.BillingModeSummary?.BillingMode ?? 'PROVISIONED',
    ttlAttribute: ttl.TimeToLiveDescription?.AttributeName,
    ttlEnabled: ttl.TimeToLiveDescription?.TimeToLiveStatus === 'ENABLED' || ttl.TimeToLiveDescription?.TimeToLiveStatus === 'ENABLING',
    tags: tagMap(tags.Tags),
  };
}

export async function observeQueue(aws: Aws, name: string): Promise<ObservedQueue | undefined> {
  const send = aws.sqs.at(`queue ${name}`);
  const url = (await unlessMissing(send(new GetQueueUrlCommand({ QueueName: name })), NOT_FOUND))?.QueueUrl;
  if (!url) return undefined;
  const [attrs, tags] = await Promise.all([
    send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] })),
    send(new ListQueueTagsCommand({ QueueUrl: url })),
  ]);
  const attributes = attrs.Attributes ?? {};
  return { url, arn: attributes.QueueArn ?? '', attributes, tags: tags.Tags ?? {} };
}

/** The signing-keys parameter: its type and key, its tags, and whether it holds a key ring (read, never kept). */
export async function observeParameter(aws: Aws, name: string): Promise<ObservedParameter | undefined> {
  const send = aws.ssm.at(`parameter ${name}`);
  const p = (await unlessMissing(send(new GetParameterCommand({ Name: name, WithDecryption: true })), NOT_FOUND))?.Parameter;
  if (!p) return undefined;
  let validKeyRing = true;
  try {
    parseKeyRing(p.Value ?? '', name);
  } catch {
    validKeyRing = false;
  }
  const tags = await send(new ListTagsForResourceCommand({ ResourceType: 'Parameter', ResourceId: name }));
  return { arn: p.ARN, type: p.Type, validKeyRing, tags: tagMap(tags.TagList) };
}

/** The stage's log groups: every group under its functions' and its API's prefixes. */
export async function observeLogGroups(aws: Aws, names: ResourceNames): Promise<Record<string, ObservedLogGroup>> {
  const out: Record<string, ObservedLogGroup> = {};
  for (const prefix of [`/aws/lambda/hermes-${names.stage}-`, names.accessLogGroup]) {
    const send = aws.logs.at(`log groups ${prefix}*`);
    let nextToken: string | undefined;
    do {
      const page = await send(new DescribeLogGroupsCommand({ logGroupNamePrefix: prefix, nextToken }));
      for (const g of page.logGroups ?? []) {
        if (!g.logGroupName || !g.arn) continue;
        // The tagging API names a group by its ARN without the trailing `:*` DescribeLogGroups gives.
        const arn = g.arn.replace(/:\*$/, '');
        const tags = await send(new ListLogTagsCommand({ resourceArn: arn }));
        out[g.logGroupName] = { arn, retentionDays: g.retentionInDays, tags: tags.tags ?? {} };
      }
      nextToken = page.nextToken;
    } while (nextToken);
  }
  return out;
}

export async function observeRole(aws: Aws, name: string): Promise<ObservedRole | undefined> {
  const send = aws.iam.at(`role ${name}`);
  const role = (await unlessMissing(send(new GetRoleCommand({ RoleName: name })), NOT_FOUND))?.Role;
  if (!role?.Arn) return undefined;
  const listed = await send(new ListRolePoliciesCommand({ RoleName: name }));
  const policies: Record<string, unknown> = {};
  for (const p of listed.PolicyNames ?? []) {
    const doc = await send(new GetRolePolicyCommand({ RoleName: name, PolicyName: p }));
    policies[p] = decodePolicy(doc.PolicyDocument);
  }
  return { arn: role.Arn, trustPolicy: decodePolicy(role.AssumeRolePolicyDocument), policies, tags: tagMap(role.Tags) };
}

/** Statement id → source ARN condition, from a function's resource policy. */
function permissionsOf(policy: string | undefined): Record<string, string | undefined> {
  if (!policy) return {};
  const doc = JSON.parse(policy) as { Statement?: Array<{ Sid?: string; Condition?: { ArnLike?: Record<string, string> } }> };
  return Object.fromEntries((doc.Statement ?? []).map((s) => [s.Sid ?? '', s.Condition?.ArnLike?.['AWS:SourceArn']]));
}

export async function observeFunction(aws: Aws, name: string): Promise<ObservedFunction | undefined> {
  const send = aws.lambda.at(`function ${name}`);
  const fn = await unlessMissing(send(new GetFunctionCommand({ FunctionName: name })), NOT_FOUND);
  const c = fn?.Configuration;
  if (!c?.FunctionArn) return undefined;
  const policy = await unlessMissing(send(new GetPolicyCommand({ FunctionName: name })), NOT_FOUND);
  return {
    arn: c.FunctionArn,
    roleArn: c.Role,
    runtime: c.Runtime,
    entry: c.Handler,
    memory: c.MemorySize,
    timeout: c.Timeout,
    architecture: c.Architectures?.[0],
    env: c.Environment?.Variables ?? {},
    codeSha256: c.CodeSha256,
    state: c.State,
    tags: fn?.Tags ?? {},
    permissions: permissionsOf(policy?.Policy),
  };
}

async function findApi(aws: Aws, name: string): Promise<Api | undefined> {
  const send = aws.apigateway.at(`api ${name}`);
  let NextToken: string | undefined;
  do {
    const page = await send(new GetApisCommand({ NextToken, MaxResults: '100' }));
    const hit = page.Items?.find((a) => a.Name === name && a.ProtocolType === 'WEBSOCKET');
    if (hit) return hit;
    NextToken = page.NextToken;
  } while (NextToken);
  return undefined;
}

/** The route that runs the authorizer ($connect): the one whose AuthorizerId names it. */
const AUTHORIZED_ROUTE = ROUTES.find((r) => r.authorizer)?.routeKey;

/**
 * The API; with `children: false` only the API itself (all that destroy needs). The authorizer
 * is read by id (GetAuthorizer): the id its `$connect` route names, or, when no route names one
 * yet (a deploy stopped between creating the authorizer and the route), the id deploy recorded
 * in the API's `hermes:authorizer` tag. There is no list call: moto lacks GetAuthorizers, and
 * a known id is all AWS needs too.
 */
export async function observeApi(aws: Aws, names: ResourceNames, children = true): Promise<ObservedApi | undefined> {
  const api = await findApi(aws, names.api);
  if (!api?.ApiId) return undefined;
  const ApiId = api.ApiId;
  const base: ObservedApi = { id: ApiId, endpoint: api.ApiEndpoint, routeSelectionExpression: api.RouteSelectionExpression, tags: api.Tags ?? {}, integrations: {}, routes: {} };
  if (!children) return base;
  const send = aws.apigateway.at(`api ${names.api}`);
  const [integrations, routes, stage] = await Promise.all([
    send(new GetIntegrationsCommand({ ApiId, MaxResults: '100' })),
    send(new GetRoutesCommand({ ApiId, MaxResults: '100' })),
    unlessMissing(send(new GetStageCommand({ ApiId, StageName: names.stage })), NOT_FOUND),
  ]);
  const out: ObservedApi = {
    ...base,
    ...(stage
      ? {
          stage: {
            autoDeploy: stage.AutoDeploy === true,
            throttling: { burstLimit: stage.DefaultRouteSettings?.ThrottlingBurstLimit, rateLimit: stage.DefaultRouteSettings?.ThrottlingRateLimit },
            ...(stage.AccessLogSettings?.DestinationArn ? { accessLog: { destinationArn: stage.AccessLogSettings.DestinationArn, format: stage.AccessLogSettings.Format } } : {}),
            tags: stage.Tags ?? {},
          },
        }
      : {}),
  };
  for (const i of integrations.Items ?? []) {
    // Integrations have no name; the function in the URI says which handler it serves.
    const h = HANDLER_NAMES.find((h) => i.IntegrationUri?.includes(`:function:${names.fn(h)}/`));
    if (h && i.IntegrationId && !out.integrations[h]) out.integrations[h] = { id: i.IntegrationId, uri: i.IntegrationUri, type: i.IntegrationType };
  }
  for (const r of routes.Items ?? []) {
    if (r.RouteKey && r.RouteId) {
      out.routes[r.RouteKey] = { id: r.RouteId, target: r.Target, authorizationType: r.AuthorizationType, authorizerId: r.AuthorizerId };
    }
  }
  const authorizerId = (AUTHORIZED_ROUTE && out.routes[AUTHORIZED_ROUTE]?.authorizerId) || base.tags[AUTHORIZER_TAG];
  if (authorizerId) {
    const a = await unlessMissing(send(new GetAuthorizerCommand({ ApiId, AuthorizerId: authorizerId })), NOT_FOUND);
    if (a?.AuthorizerId) out.authorizer = { id: a.AuthorizerId, name: a.Name, uri: a.AuthorizerUri, identitySource: a.IdentitySource ?? [] };
  }
  return out;
}

export async function observeMapping(aws: Aws, fnName: string, queueArn: string | undefined): Promise<ObservedState['mapping']> {
  if (!queueArn) return undefined;
  const send = aws.lambda.at(`event source mapping ${fnName}`);
  // By function only, the queue matched here: the same answer, and moto (whose signature check
  // trips over an ARN in the query string) accepts it with IAM enforcement on.
  const res = await unlessMissing(send(new ListEventSourceMappingsCommand({ FunctionName: fnName })), NOT_FOUND);
  const m = res?.EventSourceMappings?.find((e) => e.EventSourceArn === queueArn);
  if (!m?.UUID) return undefined;
  return {
    uuid: m.UUID,
    arn: m.EventSourceMappingArn,
    functionArn: m.FunctionArn,
    batchSize: m.BatchSize,
    responseTypes: m.FunctionResponseTypes ?? [],
    state: m.State,
  };
}

export async function observe(aws: Aws, names: ResourceNames, opts: { apiChildren?: boolean } = {}): Promise<ObservedState> {
  const settle = async <T>(keys: string[], f: (k: string) => Promise<T | undefined>) => {
    const values = await Promise.all(keys.map(f));
    return Object.fromEntries(keys.flatMap((k, i) => (values[i] ? [[k, values[i] as T]] : [])));
  };
  const [tables, queues, roles, functions, api, signingKeys, logGroups] = await Promise.all([
    settle(TABLE_KEYS.map((k) => names.table(k)), (n) => observeTable(aws, n)),
    settle(QUEUE_ORDER.map((k) => names.queueName(k)), (n) => observeQueue(aws, n)),
    settle(HANDLER_NAMES.map((h) => names.role(h)), (n) => observeRole(aws, n)),
    settle(HANDLER_NAMES.map((h) => names.fn(h)), (n) => observeFunction(aws, n)),
    observeApi(aws, names, opts.apiChildren ?? true),
    observeParameter(aws, names.parameter('signingKeys')),
    observeLogGroups(aws, names),
  ]);
  const fnName = names.fn(EVENT_SOURCE.handler);
  const mapping = functions[fnName] ? await observeMapping(aws, fnName, queues[names.queueName(EVENT_SOURCE.queue)]?.arn) : undefined;
  return { tables, queues, roles, functions, logGroups, ...(api ? { api } : {}), ...(mapping ? { mapping } : {}), ...(signingKeys ? { signingKeys } : {}) };
}
