/**
 * The deploy plan on plain data: desired state against observed state, no AWS. `deployedAs`
 * builds what AWS reports right after a perfect deploy of `desired`; each test perturbs it.
 */
import { describe, it, expect } from 'vitest';
import { resourceNames, ROOM_INDEX, USER_INDEX } from '../src/stack/names.js';
import { FUNCTIONS, HANDLER_NAMES, QUEUES } from '../src/stack/definition.js';
import { desiredState, STAGE_TAG } from '../src/deploy/spec.js';
import { plan, summarize, canonical } from '../src/deploy/plan.js';
import { knownIds } from '../src/deploy/deploy.js';
import type { KnownIds } from '../src/deploy/arns.js';
import type { DesiredState, ObservedState, PlanItem } from '../src/deploy/types.js';

const names = resourceNames('dev');
const ids: KnownIds = {
  region: 'eu-west-1',
  partition: 'aws',
  account: '123456789012',
  apiId: 'abc123',
  apiHost: 'abc123.execute-api.eu-west-1.amazonaws.com',
  queueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/hermes-dev-messages',
  dlqUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/hermes-dev-messages-dlq',
};
const sha = Object.fromEntries(HANDLER_NAMES.map((h) => [h, `sha-${h}`])) as Record<(typeof HANDLER_NAMES)[number], string>;
const desired = () => desiredState({ names, ids, codeSha256: sha, jwtSecret: 's3cret-value' });

/** What observe() returns right after `d` was deployed (RedrivePolicy formatted as SQS does). */
function deployedAs(d: DesiredState): ObservedState {
  const arn = (service: string, rest: string) => `arn:aws:${service}:eu-west-1:123456789012:${rest}`;
  const integrations = Object.fromEntries(d.integrations.map((i, n) => [i.handler, { id: `int${n}`, uri: i.uri, type: 'AWS_PROXY' }]));
  return {
    tables: Object.fromEntries(
      d.tables.map((t) => [
        t.name,
        {
          arn: arn('dynamodb', `table/${t.name}`),
          status: 'ACTIVE',
          hashKey: t.hashKey,
          rangeKey: t.rangeKey,
          indexes: Object.fromEntries(Object.entries(t.indexes).map(([n, k]) => [n, { keySchema: k, projection: 'ALL', status: 'ACTIVE' }])),
          billingMode: 'PAY_PER_REQUEST',
          ttlAttribute: t.ttlAttribute,
          ttlEnabled: true,
          tags: { ...t.tags, owner: 'someone-else' },
        },
      ]),
    ),
    queues: Object.fromEntries(
      d.queues.map((q) => [
        q.name,
        {
          url: `https://sqs/${q.name}`,
          arn: arn('sqs', q.name),
          attributes: {
            ...q.attributes,
            ...(q.attributes.RedrivePolicy ? { RedrivePolicy: JSON.stringify(JSON.parse(q.attributes.RedrivePolicy), null, 1) } : {}),
            DelaySeconds: '0',
          },
          tags: { ...q.tags },
        },
      ]),
    ),
    roles: Object.fromEntries(
      d.roles.map((r) => [r.name, { arn: `arn:aws:iam::123456789012:role/${r.name}`, trustPolicy: r.trustPolicy, policies: { [r.policyName]: r.policy }, tags: { ...r.tags } }]),
    ),
    functions: Object.fromEntries(
      d.functions.map((f) => [
        f.name,
        {
          arn: arn('lambda', `function:${f.name}`),
          roleArn: f.roleArn,
          runtime: f.runtime,
          entry: f.entry,
          memory: f.memory,
          timeout: f.timeout,
          env: { ...f.env },
          codeSha256: f.codeSha256,
          state: 'Active',
          tags: { ...f.tags },
          permissions: { 'hermes-apigateway': d.permissions[0].sourceArn },
        },
      ]),
    ),
    api: {
      id: 'abc123',
      endpoint: 'wss://abc123.execute-api.eu-west-1.amazonaws.com',
      routeSelectionExpression: d.api.routeSelectionExpression,
      tags: { ...d.api.tags },
      authorizer: { id: 'auth1', name: d.authorizer.name, uri: d.authorizer.uri, identitySource: d.authorizer.identitySource },
      integrations,
      routes: Object.fromEntries(
        d.routes.map((r, n) => [
          r.routeKey,
          {
            id: `r${n}`,
            target: `integrations/${integrations[r.handler].id}`,
            authorizationType: r.authorizer ? 'CUSTOM' : 'NONE',
            ...(r.authorizer ? { authorizerId: 'auth1' } : {}),
          },
        ]),
      ),
      stage: { deploymentId: 'dep1', tags: { ...d.stage.tags } },
    },
    mapping: { uuid: 'm1', batchSize: 10, responseTypes: ['ReportBatchItemFailures'], state: 'Enabled' },
  };
}

const find = (items: PlanItem[], kind: PlanItem['kind'], resource: string) => items.find((i) => i.kind === kind && i.resource === resource)!;
const changed = (items: PlanItem[]) => items.filter((i) => i.action !== 'unchanged').map((i) => `${i.kind}:${i.resource}:${i.action}`);

describe('deploy plan', () => {
  it('plans every resource as create when nothing exists, in dependency order', () => {
    const items = plan(desired(), { tables: {}, queues: {}, roles: {}, functions: {} });
    expect(items.every((i) => i.action === 'create')).toBe(true);
    expect(items.map((i) => i.kind)).toEqual([
      'table', 'table', 'table', 'queue', 'queue', 'api',
      ...HANDLER_NAMES.map(() => 'role'), ...HANDLER_NAMES.map(() => 'function'),
      'authorizer', 'integration', 'integration', 'integration', 'integration', 'integration',
      'route', 'route', 'route', 'route', 'route', 'stage',
      ...HANDLER_NAMES.map(() => 'permission'), 'deployment', 'event-source-mapping',
    ]);
    expect(items).toHaveLength(38);
    // The DLQ comes before the queue whose redrive policy points at it.
    expect(items[3].resource).toBe(names.dlq);
  });

  it('finds nothing to do when AWS matches (tags added by others and formatting differences are ignored)', () => {
    const d = desired();
    const items = plan(d, deployedAs(d));
    expect(changed(items)).toEqual([]);
    expect(summarize(items)).toEqual({ create: 0, update: 0, unchanged: 38, delete: 0 });
  });

  it('updates only the function whose code changed', () => {
    const d = desired();
    const o = deployedAs(d);
    o.functions[names.fn('connect')].codeSha256 = 'old-sha';
    const items = plan(d, o);
    expect(changed(items)).toEqual([`function:${names.fn('connect')}:update`]);
    expect(find(items, 'function', names.fn('connect')).changes).toEqual(['code old-sha → sha-conn']);
  });

  it('reports configuration drift per field and never shows the JWT secret', () => {
    const d = desired();
    const o = deployedAs(d);
    const auth = o.functions[names.fn('authorizer')];
    auth.memory = 128;
    auth.env.HERMES_JWT_SECRET = 'other-secret';
    auth.env.EXTRA = '1';
    const item = find(plan(d, o), 'function', names.fn('authorizer'));
    expect(item.action).toBe('update');
    expect(item.changes).toEqual(['memory 128 → 1024', 'env HERMES_JWT_SECRET set', 'env EXTRA removed']);
    expect(JSON.stringify(item)).not.toContain('s3cret-value');
    expect(JSON.stringify(item)).not.toContain('other-secret');
  });

  it('sizes the functions and the queue as the design says', () => {
    const d = desired();
    const fn = (h: string) => d.functions.find((f) => f.handler === h)!;
    expect(fn('authorizer').memory).toBe(1024);
    expect(fn('send-message')).toMatchObject({ memory: 512, timeout: 30, runtime: 'nodejs22.x', entry: 'index.handler' });
    expect(QUEUES.messages.visibilityTimeoutSeconds).toBeGreaterThanOrEqual(6 * FUNCTIONS['send-message'].timeoutSeconds);
    const queue = d.queues.find((q) => q.name === names.queue)!;
    expect(queue.attributes.VisibilityTimeout).toBe('180');
    expect(JSON.parse(queue.attributes.RedrivePolicy)).toEqual({ deadLetterTargetArn: `arn:aws:sqs:eu-west-1:123456789012:${names.dlq}`, maxReceiveCount: 5 });
    expect(fn('send-message').env).toMatchObject({
      HERMES_QUEUE_URL: ids.queueUrl,
      HERMES_DLQ_URL: ids.dlqUrl,
      HERMES_MANAGEMENT_ENDPOINT: 'https://abc123.execute-api.eu-west-1.amazonaws.com/dev',
    });
    expect(fn('authorizer').env.HERMES_JWT_SECRET).toBe('s3cret-value');
    expect(fn('connect').env).toEqual({ HERMES_STAGE: 'dev', HERMES_CONNECTIONS_TABLE: names.connectionsTable, HERMES_TOKENS_TABLE: names.tokensTable });
    for (const r of [...d.tables, ...d.queues, ...d.roles, ...d.functions, d.api, d.stage, d.mapping]) {
      expect(r.tags).toEqual({ [STAGE_TAG]: 'dev', 'hermes:managed': 'true' });
    }
    expect(d.tables[0].indexes).toEqual({ [ROOM_INDEX]: 'room_id+connection_id', [USER_INDEX]: 'user_id+connection_id' });
    expect(d.mapping).toMatchObject({ batchSize: 10, responseTypes: ['ReportBatchItemFailures'] });
  });

  it('adds a missing index, turns TTL on, restores redrive, re-tags', () => {
    const d = desired();
    const o = deployedAs(d);
    delete o.tables[names.connectionsTable].indexes[USER_INDEX];
    o.tables[names.tokensTable].ttlEnabled = false;
    o.queues[names.queue].attributes.RedrivePolicy = JSON.stringify({ deadLetterTargetArn: 'arn:aws:sqs:eu-west-1:123456789012:x', maxReceiveCount: 5 });
    o.queues[names.queue].attributes.VisibilityTimeout = '30';
    delete o.roles[names.role('connect')].tags[STAGE_TAG];
    const items = plan(d, o);
    expect(find(items, 'table', names.connectionsTable).changes).toEqual([`add index ${USER_INDEX}`]);
    expect(find(items, 'table', names.tokensTable).changes).toEqual(['ttl on expires_at']);
    expect(find(items, 'queue', names.queue).changes).toEqual(['VisibilityTimeout 30 → 180', 'redrive policy']);
    expect(find(items, 'role', names.role('connect')).changes).toEqual(['tag hermes:stage=dev']);
  });

  it('flags key schema changes as impossible in place', () => {
    const d = desired();
    const o = deployedAs(d);
    o.tables[names.tokensTable].rangeKey = undefined;
    expect(find(plan(d, o), 'table', names.tokensTable).changes[0]).toMatch(/key schema user_id ≠ user_id\+token_id \(cannot change in place\)/);
  });

  it('updates a role whose inline policy drifted and removes stray inline policies', () => {
    const d = desired();
    const o = deployedAs(d);
    const role = o.roles[names.role('default')];
    role.policies = { 'hermes-default': { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }, extra: {} };
    expect(find(plan(d, o), 'role', names.role('default')).changes).toEqual(['policy hermes-default', 'remove policies extra']);
  });

  it('compares IAM documents regardless of key order and single-value lists', () => {
    expect(canonical({ Statement: [{ Resource: 'a', Action: ['x'] }], Version: '1' })).toBe(
      canonical({ Version: '1', Statement: [{ Action: 'x', Resource: ['a'] }] }),
    );
  });

  it('re-points routes and redeploys the stage when the API changes; an unchanged API is not redeployed', () => {
    const d = desired();
    const o = deployedAs(d);
    o.api!.routes.sendMessage.target = 'integrations/int0';
    o.api!.routes.$connect.authorizationType = 'NONE';
    delete o.api!.routes.$connect.authorizerId;
    const items = plan(d, o);
    expect(find(items, 'route', 'sendMessage').changes).toEqual(['target → send-message']);
    expect(find(items, 'route', '$connect').changes).toEqual(['authorization NONE → CUSTOM']);
    expect(find(items, 'deployment', 'dev')).toMatchObject({ action: 'create', changes: ['route $connect updated', 'route sendMessage updated'] });
  });

  it('creates a deployment when the stage has none', () => {
    const d = desired();
    const o = deployedAs(d);
    delete o.api!.stage!.deploymentId;
    expect(changed(plan(d, o))).toEqual(['deployment:dev:create']);
  });

  it('fixes the event-source mapping and a permission with the wrong source', () => {
    const d = desired();
    const o = deployedAs(d);
    o.mapping = { uuid: 'm1', batchSize: 1, responseTypes: [], state: 'Disabled' };
    o.functions[names.fn('connect')].permissions['hermes-apigateway'] = 'arn:aws:execute-api:eu-west-1:123456789012:other/*';
    const items = plan(d, o);
    expect(items.find((i) => i.kind === 'event-source-mapping')!.changes).toEqual([
      'batch size 1 → 10', 'response types → ReportBatchItemFailures', 'enable',
    ]);
    expect(find(items, 'permission', `${names.fn('connect')} ← apigateway`).action).toBe('update');
  });

  it('derives account, partition, API and queues from what exists', () => {
    const d = desired();
    const o = deployedAs(d);
    expect(knownIds(o, names, 'eu-west-1')).toMatchObject({
      partition: 'aws', account: '123456789012', apiId: 'abc123', apiHost: 'abc123.execute-api.eu-west-1.amazonaws.com',
      queueUrl: `https://sqs/${names.queue}`, dlqUrl: `https://sqs/${names.dlq}`,
    });
    expect(knownIds({ tables: {}, queues: {}, roles: {}, functions: {} }, names, 'eu-west-1')).toEqual({ region: 'eu-west-1', partition: 'aws' });
  });

  it('uses placeholders before the first deploy, so a dry run can show the whole plan', () => {
    const d = desiredState({ names, ids: { region: 'us-east-1', partition: 'aws' }, codeSha256: sha, jwtSecret: 'x' });
    expect(d.functions.find((f) => f.handler === 'send-message')!.env.HERMES_MANAGEMENT_ENDPOINT).toBe(
      'https://<api-id>.execute-api.us-east-1.amazonaws.com/dev',
    );
  });
});
