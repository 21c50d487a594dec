/** Apply: the DynamoDB tables, the SQS queues and the SSM parameter with the signing keys. */
import {
  CreateTableCommand, DescribeTableCommand, TagResourceCommand, UpdateTableCommand, UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, SetQueueAttributesCommand, TagQueueCommand } from '@aws-sdk/client-sqs';
import { AddTagsToResourceCommand, GetParameterCommand, PutParameterCommand } from '@aws-sdk/client-ssm';
import { newKeyRing, serializeKeyRing } from '../core/signing-keys.js';
import { HermesError } from '../core/errors.js';
import type { Aws } from './aws.js';
import { changedQueueAttributes } from './plan.js';
import { waitFor, type WaitOptions } from './wait.js';
import type { ObservedParameter, ObservedQueue, ObservedTable, ParameterSpec, PlanItem, QueueSpec, TableSpec } from './types.js';

export interface ApplyContext {
  aws: Aws;
  wait: WaitOptions;
}

const tagList = (tags: Record<string, string>) => Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));

/** ACTIVE, with every index ACTIVE: DynamoDB refuses further updates until then. */
async function waitTableActive(ctx: ApplyContext, name: string): Promise<string> {
  const send = ctx.aws.dynamodb.at(`table ${name}`);
  return waitFor(
    `table ${name} to become ACTIVE`,
    async () => {
      const t = (await send(new DescribeTableCommand({ TableName: name }))).Table;
      const indexesReady = (t?.GlobalSecondaryIndexes ?? []).every((i) => i.IndexStatus === 'ACTIVE');
      return t?.TableStatus === 'ACTIVE' && indexesReady ? t.TableArn : undefined;
    },
    ctx.wait,
  );
}

export async function applyTable(ctx: ApplyContext, d: TableSpec, o: ObservedTable | undefined, item: PlanItem): Promise<string> {
  const send = ctx.aws.dynamodb.at(`table ${d.name}`);
  if (item.action === 'unchanged') return o!.arn;
  if (item.action === 'create') {
    await send(new CreateTableCommand({ ...d.definition, Tags: tagList(d.tags) }));
    const arn = await waitTableActive(ctx, d.name);
    await send(new UpdateTimeToLiveCommand({ TableName: d.name, TimeToLiveSpecification: { Enabled: true, AttributeName: d.ttlAttribute } }));
    return arn;
  }
  const obs = o!;
  const blocked = item.changes.filter((c) => c.includes('cannot change in place'));
  if (blocked.length) {
    throw new HermesError(`Table ${d.name} has a different layout than hermes needs: ${blocked.join('; ')}.`, {
      hint: `DynamoDB cannot change keys or indexes in place. Export what you need, then \`hermes destroy --stage ${d.tags['hermes:stage']}\` and deploy again.`,
    });
  }
  if (obs.status !== 'ACTIVE') await waitTableActive(ctx, d.name);
  if (obs.billingMode !== d.billingMode) {
    await send(new UpdateTableCommand({ TableName: d.name, BillingMode: d.billingMode }));
    await waitTableActive(ctx, d.name);
  }
  // DynamoDB creates one index per UpdateTable, and only once the previous one is ACTIVE.
  for (const index of d.definition.GlobalSecondaryIndexes ?? []) {
    if (obs.indexes[index.IndexName!]) continue;
    const keys = new Set(index.KeySchema!.map((k) => k.AttributeName));
    await send(
      new UpdateTableCommand({
        TableName: d.name,
        AttributeDefinitions: d.definition.AttributeDefinitions!.filter((a) => keys.has(a.AttributeName)),
        GlobalSecondaryIndexUpdates: [{ Create: { IndexName: index.IndexName, KeySchema: index.KeySchema, Projection: index.Projection } }],
      }),
    );
    await waitTableActive(ctx, d.name);
  }
  if (!obs.ttlEnabled || obs.ttlAttribute !== d.ttlAttribute) {
    await send(new UpdateTimeToLiveCommand({ TableName: d.name, TimeToLiveSpecification: { Enabled: true, AttributeName: d.ttlAttribute } }));
  }
  if (item.changes.some((c) => c.startsWith('tag '))) await send(new TagResourceCommand({ ResourceArn: obs.arn, Tags: tagList(d.tags) }));
  return obs.arn;
}

export async function applyQueue(
  ctx: ApplyContext,
  d: QueueSpec,
  o: ObservedQueue | undefined,
  item: PlanItem,
): Promise<{ url: string; arn: string }> {
  const send = ctx.aws.sqs.at(`queue ${d.name}`);
  if (item.action === 'unchanged') return { url: o!.url, arn: o!.arn };
  if (item.action === 'create') {
    const { QueueUrl } = await send(new CreateQueueCommand({ QueueName: d.name, Attributes: d.attributes, tags: d.tags }));
    const attrs = await send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
    return { url: QueueUrl!, arn: attrs.Attributes?.QueueArn ?? '' };
  }
  const obs = o!;
  const changed = Object.fromEntries(changedQueueAttributes(d, obs).map((k) => [k, d.attributes[k]]));
  if (Object.keys(changed).length) await send(new SetQueueAttributesCommand({ QueueUrl: obs.url, Attributes: changed }));
  if (item.changes.some((c) => c.startsWith('tag '))) await send(new TagQueueCommand({ QueueUrl: obs.url, Tags: d.tags }));
  return { url: obs.url, arn: obs.arn };
}

/**
 * The signing keys: a new key ring on first deploy, as a standard SecureString (encrypted with
 * SSM's AWS managed key). Deploy never replaces the keys of an existing ring (that would make
 * every issued token invalid); `hermes secret rotate` does, with a grace period.
 */
export async function applyParameter(ctx: ApplyContext, d: ParameterSpec, o: ObservedParameter | undefined, item: PlanItem): Promise<void> {
  const send = ctx.aws.ssm.at(`parameter ${d.name}`);
  const description = `hermes signing keys of stage ${d.tags['hermes:stage']} (see docs/tokens.md)`;
  if (item.action === 'create') {
    await send(new PutParameterCommand({ Name: d.name, Type: d.type, Tier: 'Standard', Value: serializeKeyRing(newKeyRing()), Description: description, Tags: tagList(d.tags) }));
    return;
  }
  if (item.action !== 'update') return;
  if (!o!.validKeyRing) {
    throw new HermesError(`SSM parameter ${d.name} exists but does not hold a hermes key ring; deploy will not overwrite it.`, {
      hint: `Restore its value, or delete it (\`aws ssm delete-parameter --name ${d.name}\`) and deploy again: a new ring is made, and tokens issued before are refused.`,
    });
  }
  if (o!.type !== d.type) {
    const value = (await send(new GetParameterCommand({ Name: d.name, WithDecryption: true }))).Parameter!.Value!;
    await send(new PutParameterCommand({ Name: d.name, Type: d.type, Value: value, Overwrite: true, Description: description }));
  }
  if (item.changes.some((c) => c.startsWith('tag '))) await send(new AddTagsToResourceCommand({ ResourceType: 'Parameter', ResourceId: d.name, Tags: tagList(d.tags) }));
}
