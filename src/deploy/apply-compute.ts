/** Apply: IAM roles, Lambda functions, their invoke permissions, and the SQS event-source mapping. */
import {
  CreateRoleCommand, DeleteRolePolicyCommand, PutRolePolicyCommand, TagRoleCommand, UpdateAssumeRolePolicyCommand,
} from '@aws-sdk/client-iam';
import {
  AddPermissionCommand, CreateEventSourceMappingCommand, CreateFunctionCommand, GetFunctionConfigurationCommand,
  RemovePermissionCommand, TagResourceCommand, UpdateEventSourceMappingCommand, UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import { HermesError } from '../core/errors.js';
import type { ApplyContext } from './apply-data.js';
import { canonical, codeChanges, functionConfigChanges } from './plan.js';
import { CreateLogGroupCommand, PutRetentionPolicyCommand, TagResourceCommand as TagLogsResourceCommand } from '@aws-sdk/client-cloudwatch-logs';
import { isRolePropagation, isUpdateInProgress, retryWhile, waitFor } from './wait.js';
import type {
  FunctionSpec, LogGroupSpec, MappingSpec, ObservedFunction, ObservedLogGroup, ObservedMapping, ObservedRole, PermissionSpec, PlanItem, RoleSpec,
} from './types.js';
import type { Artifact } from './bundle.js';

const hasTagChange = (item: PlanItem) => item.changes.some((c) => c.startsWith('tag '));

export async function applyRole(ctx: ApplyContext, d: RoleSpec, o: ObservedRole | undefined, item: PlanItem): Promise<void> {
  const send = ctx.aws.iam.at(`role ${d.name}`);
  const put = () => send(new PutRolePolicyCommand({ RoleName: d.name, PolicyName: d.policyName, PolicyDocument: JSON.stringify(d.policy) }));
  if (item.action === 'create') {
    await send(
      new CreateRoleCommand({
        RoleName: d.name,
        AssumeRolePolicyDocument: JSON.stringify(d.trustPolicy),
        Description: `hermes ${d.handler} function of stage ${d.tags['hermes:stage']}`,
        Tags: Object.entries(d.tags).map(([Key, Value]) => ({ Key, Value })),
      }),
    );
    await put();
    return;
  }
  if (item.action !== 'update') return;
  const obs = o!;
  if (canonical(obs.trustPolicy) !== canonical(d.trustPolicy)) {
    await send(new UpdateAssumeRolePolicyCommand({ RoleName: d.name, PolicyDocument: JSON.stringify(d.trustPolicy) }));
  }
  if (canonical(obs.policies[d.policyName]) !== canonical(d.policy)) await put();
  for (const stray of Object.keys(obs.policies).filter((p) => p !== d.policyName)) {
    await send(new DeleteRolePolicyCommand({ RoleName: d.name, PolicyName: stray }));
  }
  if (hasTagChange(item)) await send(new TagRoleCommand({ RoleName: d.name, Tags: Object.entries(d.tags).map(([Key, Value]) => ({ Key, Value })) }));
}

/** Lambda accepts one change at a time: wait until the function is Active and not updating. */
async function waitFunctionReady(ctx: ApplyContext, name: string): Promise<void> {
  const send = ctx.aws.lambda.at(`function ${name}`);
  await waitFor(
    `function ${name} to become Active`,
    async () => {
      const c = await send(new GetFunctionConfigurationCommand({ FunctionName: name }));
      if (c.State === 'Failed' || c.LastUpdateStatus === 'Failed') {
        throw new HermesError(`Function ${name} failed to update: ${c.StateReason ?? c.LastUpdateStatusReason ?? 'no reason given'}.`, {
          hint: 'Fix the cause named above and deploy again.',
        });
      }
      return c.State === 'Active' && c.LastUpdateStatus !== 'InProgress' ? true : undefined;
    },
    ctx.wait,
  );
}

function configuration(d: FunctionSpec) {
  return {
    FunctionName: d.name,
    Role: d.roleArn,
    Runtime: d.runtime as 'nodejs22.x',
    Handler: d.entry,
    MemorySize: d.memory,
    Timeout: d.timeout,
    Environment: { Variables: d.env },
  };
}

/** Logs: a group per function with its retention, made before the function so Lambda never makes one without. */
export async function applyLogGroup(ctx: ApplyContext, d: LogGroupSpec, o: ObservedLogGroup | undefined, item: PlanItem): Promise<void> {
  const send = ctx.aws.logs.at(`log group ${d.name}`);
  if (item.action === 'create') {
    await send(new CreateLogGroupCommand({ logGroupName: d.name, tags: d.tags }));
    await send(new PutRetentionPolicyCommand({ logGroupName: d.name, retentionInDays: d.retentionDays }));
    return;
  }
  if (item.action !== 'update') return;
  if (o!.retentionDays !== d.retentionDays) await send(new PutRetentionPolicyCommand({ logGroupName: d.name, retentionInDays: d.retentionDays }));
  if (item.changes.some((c) => c.startsWith('tag '))) await send(new TagLogsResourceCommand({ resourceArn: o!.arn, tags: d.tags }));
}

export async function applyFunction(
  ctx: ApplyContext,
  d: FunctionSpec,
  o: ObservedFunction | undefined,
  item: PlanItem,
  artifact: Artifact,
): Promise<void> {
  const send = ctx.aws.lambda.at(`function ${d.name}`);
  // A role made seconds ago is not yet assumable by Lambda; updates can also collide.
  const retrying = <T>(f: () => Promise<T>) =>
    retryWhile(f, (e) => isRolePropagation(e) || isUpdateInProgress(e), { ...ctx.wait, timeoutMs: Math.min(ctx.wait.timeoutMs, 120_000) });
  if (item.action === 'create') {
    await retrying(() =>
      send(new CreateFunctionCommand({ ...configuration(d), Code: { ZipFile: artifact.zip }, Architectures: [d.architecture], PackageType: 'Zip', Tags: d.tags, Description: `hermes ${d.handler}` })),
    );
    await waitFunctionReady(ctx, d.name);
    return;
  }
  if (item.action !== 'update') return;
  const obs = o!;
  if (codeChanges(d, obs).length) {
    await retrying(() => send(new UpdateFunctionCodeCommand({ FunctionName: d.name, ZipFile: artifact.zip, Architectures: [d.architecture] })));
    await waitFunctionReady(ctx, d.name);
  }
  if (functionConfigChanges(d, obs).length) {
    await retrying(() => send(new UpdateFunctionConfigurationCommand(configuration(d))));
    await waitFunctionReady(ctx, d.name);
  }
  if (hasTagChange(item)) await send(new TagResourceCommand({ Resource: obs.arn, Tags: d.tags }));
}

export async function applyPermission(ctx: ApplyContext, d: PermissionSpec, fnName: string, item: PlanItem): Promise<void> {
  const send = ctx.aws.lambda.at(`permission ${item.resource}`);
  if (item.action === 'unchanged') return;
  if (item.action === 'update') await send(new RemovePermissionCommand({ FunctionName: fnName, StatementId: d.statementId }));
  await send(
    new AddPermissionCommand({
      FunctionName: fnName,
      StatementId: d.statementId,
      Action: 'lambda:InvokeFunction',
      Principal: 'apigateway.amazonaws.com',
      SourceArn: d.sourceArn,
    }),
  );
}

export async function applyMapping(ctx: ApplyContext, d: MappingSpec, fnName: string, o: ObservedMapping | undefined, item: PlanItem): Promise<void> {
  const send = ctx.aws.lambda.at(`event source mapping ${item.resource}`);
  // Lambda checks the role can read the queue; a policy put seconds ago may not be visible yet.
  const retrying = <T>(f: () => Promise<T>) => retryWhile(f, isRolePropagation, { ...ctx.wait, timeoutMs: Math.min(ctx.wait.timeoutMs, 120_000) });
  const settings = { BatchSize: d.batchSize, FunctionResponseTypes: d.responseTypes as 'ReportBatchItemFailures'[], Enabled: true };
  if (item.action === 'create') {
    await retrying(() => send(new CreateEventSourceMappingCommand({ FunctionName: fnName, EventSourceArn: d.queueArn, ...settings, Tags: d.tags })));
  } else if (item.action === 'update') {
    await retrying(() => send(new UpdateEventSourceMappingCommand({ UUID: o!.uuid, FunctionName: fnName, ...settings })));
  }
}
