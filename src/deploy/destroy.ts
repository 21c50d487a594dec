/**
 * Destroy: remove what deploy made, in reverse order, and nothing else. A resource is deleted
 * only when its name is the stage's AND it carries the stage's tag; a same-named resource
 * without the tag was not made by hermes for this stage and is left alone (and reported).
 * Deleting the API removes its authorizer, integrations, routes, stage and deployments;
 * deleting a function removes its invoke permissions.
 */
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { DeleteQueueCommand } from '@aws-sdk/client-sqs';
import { DeleteRoleCommand, DeleteRolePolicyCommand } from '@aws-sdk/client-iam';
import { DeleteEventSourceMappingCommand, DeleteFunctionCommand } from '@aws-sdk/client-lambda';
import { DeleteApiCommand } from '@aws-sdk/client-apigatewayv2';
import { DeleteParameterCommand } from '@aws-sdk/client-ssm';
import { DeleteLogGroupCommand } from '@aws-sdk/client-cloudwatch-logs';
import { type ResourceNames } from '../stack/names.js';
import { EVENT_SOURCE, HANDLER_NAMES, QUEUE_ORDER } from '../stack/definition.js';
import { TABLE_KEYS } from '../stack/tables.js';
import { NOT_FOUND, unlessMissing, type Aws } from './aws.js';
import { observe } from './observe.js';
import { STAGE_TAG } from './spec.js';
import type { ObservedState, PlanItem, Tags } from './types.js';

interface Removal {
  item: PlanItem;
  run: () => Promise<unknown>;
}

export interface DestroyPlan {
  removals: Removal[];
  /** Same-named resources that lack the stage tag: not ours, not touched. */
  skipped: PlanItem[];
}

export interface DestroyResult {
  stage: string;
  region: string;
  /** Log groups left in place (--keep-logs). */
  keptLogs?: boolean;
  deleted: PlanItem[];
  skipped: PlanItem[];
}

export function destroyPlan(aws: Aws, names: ResourceNames, o: ObservedState, opts: { keepLogs?: boolean } = {}): DestroyPlan {
  const removals: Removal[] = [];
  const skipped: PlanItem[] = [];
  const ours = (tags: Tags) => tags[STAGE_TAG] === names.stage;
  const add = (kind: PlanItem['kind'], resource: string, tags: Tags, run: () => Promise<unknown>) => {
    if (ours(tags)) removals.push({ item: { kind, resource, action: 'delete', changes: [] }, run });
    else skipped.push({ kind, resource, action: 'unchanged', changes: [`no ${STAGE_TAG}=${names.stage} tag`] });
  };
  const gone = (p: Promise<unknown>) => unlessMissing(p, NOT_FOUND);

  const sender = o.functions[names.fn(EVENT_SOURCE.handler)];
  if (o.mapping && sender) {
    const uuid = o.mapping.uuid;
    add('event-source-mapping', `queue → ${names.fn(EVENT_SOURCE.handler)}`, sender.tags, () =>
      gone(aws.lambda.at(`event source mapping ${uuid}`)(new DeleteEventSourceMappingCommand({ UUID: uuid }))),
    );
  }
  if (o.api) {
    const apiId = o.api.id;
    add('api', names.api, o.api.tags, () => gone(aws.apigateway.at(`api ${names.api}`)(new DeleteApiCommand({ ApiId: apiId }))));
  }
  for (const h of HANDLER_NAMES) {
    const fn = o.functions[names.fn(h)];
    if (fn) add('function', names.fn(h), fn.tags, () => gone(aws.lambda.at(`function ${names.fn(h)}`)(new DeleteFunctionCommand({ FunctionName: names.fn(h) }))));
  }
  for (const h of HANDLER_NAMES) {
    const role = o.roles[names.role(h)];
    if (!role) continue;
    const RoleName = names.role(h);
    add('role', RoleName, role.tags, async () => {
      const send = aws.iam.at(`role ${RoleName}`);
      for (const PolicyName of Object.keys(role.policies)) await gone(send(new DeleteRolePolicyCommand({ RoleName, PolicyName })));
      await gone(send(new DeleteRoleCommand({ RoleName })));
    });
  }
  // Queues that others redrive to go last: the reverse of their creation order.
  for (const name of [...QUEUE_ORDER].reverse().map((k) => names.queueName(k))) {
    const q = o.queues[name];
    if (q) add('queue', name, q.tags, () => gone(aws.sqs.at(`queue ${name}`)(new DeleteQueueCommand({ QueueUrl: q.url }))));
  }
  if (!opts.keepLogs) {
    for (const [name, g] of Object.entries(o.logGroups ?? {})) {
      add('log-group', name, g.tags, () => gone(aws.logs.at(`log group ${name}`)(new DeleteLogGroupCommand({ logGroupName: name }))));
    }
  }
  if (o.signingKeys) {
    const Name = names.parameter('signingKeys');
    add('parameter', Name, o.signingKeys.tags, () => gone(aws.ssm.at(`parameter ${Name}`)(new DeleteParameterCommand({ Name }))));
  }
  for (const name of TABLE_KEYS.map((k) => names.table(k))) {
    const t = o.tables[name];
    if (t) add('table', name, t.tags, () => gone(aws.dynamodb.at(`table ${name}`)(new DeleteTableCommand({ TableName: name }))));
  }
  return { removals, skipped };
}

/** Read what exists; the API's children are not needed (deleting the API removes them). */
export function observeForDestroy(aws: Aws, names: ResourceNames): Promise<ObservedState> {
  return observe(aws, names, { apiChildren: false });
}

export async function destroy(aws: Aws, names: ResourceNames, p: DestroyPlan, onProgress?: (item: PlanItem) => void, opts: { keepLogs?: boolean } = {}): Promise<DestroyResult> {
  for (const r of p.removals) {
    await r.run();
    onProgress?.(r.item);
  }
  return { stage: names.stage, region: aws.region, deleted: p.removals.map((r) => r.item), skipped: p.skipped, ...(opts.keepLogs ? { keptLogs: true } : {}) };
}
