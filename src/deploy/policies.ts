/**
 * Least privilege, per function: each role may call only the actions its handler's code makes,
 * and only on this stage's own table, index, queue and API. No data-plane action has a `*`
 * resource (test/deploy-policies.test.ts checks it).
 */
import type { HandlerName, ResourceNames } from '../core/names.js';
import { ROOM_INDEX } from '../core/names.js';
import type { StageArns } from './arns.js';
import type { PolicyDocument, PolicyStatement } from './types.js';

/** Only the Lambda service may assume a hermes function role. */
export const LAMBDA_TRUST_POLICY = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
} as const;

const allow = (Sid: string, Action: string[], Resource: string[]): PolicyStatement => ({ Sid, Effect: 'Allow', Action, Resource });

function logs(h: HandlerName, arns: StageArns): PolicyStatement {
  // Lambda writes to /aws/lambda/<function>; creating the group is allowed so the first
  // invocation can make it, on that group only.
  const group = arns.logGroup(h);
  return allow('Logs', ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'], [group, `${group}:*`]);
}

export function rolePolicy(h: HandlerName, names: ResourceNames, arns: StageArns): PolicyDocument {
  const connections = arns.table(names.connectionsTable);
  const statements: PolicyStatement[] = [];
  switch (h) {
    case 'authorizer':
      // verifyToken reads the token's row (bcrypt hash, revocation) by key.
      statements.push(allow('ReadTokens', ['dynamodb:GetItem'], [arns.table(names.tokensTable)]));
      break;
    case 'connect':
      statements.push(allow('RecordConnection', ['dynamodb:PutItem'], [connections]));
      break;
    case 'disconnect':
      statements.push(allow('ForgetConnection', ['dynamodb:DeleteItem'], [connections]));
      break;
    case 'default':
      statements.push(allow('AnswerSender', ['execute-api:ManageConnections'], [arns.manageConnections]));
      break;
    case 'send-message':
      statements.push(
        allow('QueryRoom', ['dynamodb:Query'], [arns.index(names.connectionsTable, ROOM_INDEX)]),
        // Connections that answer 410 Gone are pruned during fan-out.
        allow('PruneConnections', ['dynamodb:DeleteItem'], [connections]),
        // What the SQS event-source mapping does with the function's role.
        allow(
          'ConsumeQueue',
          ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ChangeMessageVisibility'],
          [arns.queue(names.queue)],
        ),
        // Shards of large rooms go back on the queue; malformed messages go to the DLQ.
        allow('Enqueue', ['sqs:SendMessage'], [arns.queue(names.queue), arns.queue(names.dlq)]),
        allow('FanOut', ['execute-api:ManageConnections'], [arns.manageConnections]),
      );
      break;
  }
  statements.push(logs(h, arns));
  return { Version: '2012-10-17', Statement: statements };
}
