/**
 * Least privilege, per function: each role may call only what its handler's code calls, as
 * the stage definition declares it (`access` in src/stack/definition.ts), and only on this
 * stage's own table, index, queue and API. No data-plane action has a `*` resource
 * (test/deploy-policies.test.ts checks it).
 */
import { FUNCTIONS, type Access, type HandlerName } from '../stack/definition.js';
import { INDEX_NAMES, type ResourceNames } from '../stack/names.js';
import type { StageArns } from './arns.js';
import type { PolicyDocument, PolicyStatement } from './types.js';

/** Only the Lambda service may assume a hermes function role. */
export const LAMBDA_TRUST_POLICY = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
} as const;

const allow = (Sid: string, Action: readonly string[], Resource: string[]): PolicyStatement => ({ Sid, Effect: 'Allow', Action: [...Action], Resource });

function logs(h: HandlerName, arns: StageArns): PolicyStatement {
  // Lambda writes to /aws/lambda/<function>; creating the group is allowed so the first
  // invocation can make it, on that group only.
  const group = arns.logGroup(h);
  return allow('Logs', ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'], [group, `${group}:*`]);
}

function statement(a: Access, names: ResourceNames, arns: StageArns): PolicyStatement {
  if ('postToConnections' in a) return allow(a.sid, ['execute-api:ManageConnections'], [arns.manageConnections]);
  if ('queues' in a) return allow(a.sid, a.actions, a.queues.map((q) => arns.queue(names.queueName(q))));
  const table = names.table(a.table);
  return allow(a.sid, a.actions, [a.index ? arns.index(table, INDEX_NAMES[a.index]) : arns.table(table)]);
}

export function rolePolicy(h: HandlerName, names: ResourceNames, arns: StageArns): PolicyDocument {
  return { Version: '2012-10-17', Statement: [...FUNCTIONS[h].access.map((a) => statement(a, names, arns)), logs(h, arns)] };
}
