/**
 * The IAM documents deploy attaches: each function may call only what its code calls, on this
 * stage's own resources; no data-plane action has a `*` resource.
 */
import { describe, it, expect } from 'vitest';
import { resourceNames } from '../src/stack/names.js';
import { HANDLER_NAMES } from '../src/stack/definition.js';
import { arnsFor } from '../src/deploy/arns.js';
import { rolePolicy, LAMBDA_TRUST_POLICY } from '../src/deploy/policies.js';

const names = resourceNames('prod');
const arns = arnsFor(names, { region: 'eu-west-1', partition: 'aws', account: '111122223333', apiId: 'api42' });
const policy = (h: (typeof HANDLER_NAMES)[number]) => rolePolicy(h, names, arns);
const actions = (h: (typeof HANDLER_NAMES)[number]) => policy(h).Statement.flatMap((s) => s.Action).sort();
const LOGS = ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'];

describe('IAM policies', () => {
  it('gives each function only the actions its handler calls', () => {
    expect(actions('authorizer')).toEqual(['dynamodb:GetItem', ...LOGS].sort());
    expect(actions('connect')).toEqual(['dynamodb:PutItem', ...LOGS].sort());
    expect(actions('disconnect')).toEqual(['dynamodb:DeleteItem', ...LOGS].sort());
    expect(actions('default')).toEqual(['execute-api:ManageConnections', ...LOGS].sort());
    expect(actions('resume')).toEqual(['dynamodb:Query', 'dynamodb:GetItem', 'execute-api:ManageConnections', ...LOGS].sort());
    expect(actions('send-message')).toEqual(
      [
        'dynamodb:Query', 'dynamodb:Query', 'dynamodb:DeleteItem',
        'dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:BatchWriteItem', 'dynamodb:Query',
        'sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ChangeMessageVisibility', 'sqs:SendMessage',
        'execute-api:ManageConnections', ...LOGS,
      ].sort(),
    );
  });

  it('has no `*` resource and no wildcard action anywhere', () => {
    for (const h of HANDLER_NAMES) {
      for (const s of policy(h).Statement) {
        expect(s.Effect).toBe('Allow');
        expect(s.Resource.length).toBeGreaterThan(0);
        for (const r of s.Resource) {
          expect(r).not.toBe('*');
          expect(r).toMatch(/^arn:aws:[a-z-]+:eu-west-1:111122223333:/);
        }
        for (const a of s.Action) expect(a).not.toMatch(/\*/);
      }
    }
  });

  it('scopes every data-plane action to this stage’s own table, index, queue or API', () => {
    const byAction = (h: (typeof HANDLER_NAMES)[number], action: string) =>
      policy(h).Statement.filter((s) => s.Action.includes(action)).flatMap((s) => s.Resource);
    expect(byAction('authorizer', 'dynamodb:GetItem')).toEqual(['arn:aws:dynamodb:eu-west-1:111122223333:table/hermes-prod-tokens']);
    expect(byAction('connect', 'dynamodb:PutItem')).toEqual(['arn:aws:dynamodb:eu-west-1:111122223333:table/hermes-prod-connections']);
    expect(byAction('send-message', 'dynamodb:Query')).toEqual([
      'arn:aws:dynamodb:eu-west-1:111122223333:table/hermes-prod-connections/index/room_id-index',
      'arn:aws:dynamodb:eu-west-1:111122223333:table/hermes-prod-connections/index/user_id-index',
      'arn:aws:dynamodb:eu-west-1:111122223333:table/hermes-prod-history',
      'arn:aws:dynamodb:eu-west-1:111122223333:table/hermes-prod-history/index/frame_id-index',
    ]);
    for (const action of ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:BatchWriteItem']) {
      expect(byAction('send-message', action)).toEqual(['arn:aws:dynamodb:eu-west-1:111122223333:table/hermes-prod-history']);
    }
    // resume reads history only, and never the other tables or the frame index.
    expect(policy('resume').Statement.filter((s) => s.Action.some((a) => a.startsWith('dynamodb:'))).flatMap((s) => s.Resource)).toEqual([
      'arn:aws:dynamodb:eu-west-1:111122223333:table/hermes-prod-history',
    ]);
    expect(byAction('send-message', 'sqs:ReceiveMessage')).toEqual(['arn:aws:sqs:eu-west-1:111122223333:hermes-prod-messages']);
    expect(byAction('send-message', 'sqs:SendMessage')).toEqual([
      'arn:aws:sqs:eu-west-1:111122223333:hermes-prod-messages',
      'arn:aws:sqs:eu-west-1:111122223333:hermes-prod-messages-dlq',
    ]);
    for (const h of ['default', 'send-message', 'resume'] as const) {
      expect(byAction(h, 'execute-api:ManageConnections')).toEqual(['arn:aws:execute-api:eu-west-1:111122223333:api42/prod/POST/@connections/*']);
    }
    expect(byAction('connect', 'logs:PutLogEvents')).toEqual([
      'arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/hermes-prod-connect',
      'arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/hermes-prod-connect:*',
    ]);
  });

  it('lets only Lambda assume the roles', () => {
    expect(LAMBDA_TRUST_POLICY.Statement).toEqual([
      { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
    ]);
  });
});
