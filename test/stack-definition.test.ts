/**
 * The local stack and the deploy plan are both built from src/stack/definition.ts: this reads
 * what the running local stack really has (its gateway's routes and identity source, each
 * function's configuration, the queues' attributes from SQS, the tables from DynamoDB, the
 * poller's settings) and what deploy would create, and checks they agree with each other and
 * with the definition.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { startLocalStack, type LocalStack } from '../src/local/stack.js';
import { desiredState } from '../src/deploy/spec.js';
import { AUTHORIZER, ENV, EVENT_SOURCE, FUNCTIONS, HANDLER_NAMES, ROUTES } from '../src/stack/definition.js';
import { keySchemaName } from '../src/stack/tables.js';
import { defaultBundleDir } from '../src/deploy/bundle.js';
import type { DesiredState } from '../src/deploy/types.js';

let stack: LocalStack;
let desired: DesiredState;

beforeAll(async () => {
  stack = await startLocalStack({ ports: { gateway: 0, dynamodb: 0, sqs: 0 } });
  desired = desiredState({
    names: stack.names,
    ids: { region: 'eu-west-1', partition: 'aws', account: '111122223333', apiId: 'abc123', queueUrl: 'q', dlqUrl: 'd' },
    codeSha256: Object.fromEntries(HANDLER_NAMES.map((h) => [h, 'sha'])) as Record<(typeof HANDLER_NAMES)[number], string>,
  });
});
afterAll(() => stack?.close());

describe('the stage definition, locally and deployed', () => {
  it('routes the same keys to the same functions, behind the same authorizer and identity source', () => {
    const deployedRoutes = Object.fromEntries(desired.routes.map((r) => [r.routeKey, r.handler]));
    expect(stack.routes).toEqual(deployedRoutes);
    expect(stack.gateway.routeKeys().sort()).toEqual(ROUTES.map((r) => r.routeKey).sort());
    expect(stack.gateway.identitySourceExpressions()).toEqual(desired.authorizer.identitySource);
    expect(desired.authorizer.identitySource).toEqual([...AUTHORIZER.identitySource]);
    expect(desired.routes.filter((r) => r.authorizer).map((r) => r.routeKey)).toEqual(['$connect']);
  });

  it('gives each function the same timeout, memory and environment variables', () => {
    for (const h of HANDLER_NAMES) {
      const local = stack.functions[h].config;
      const deployed = desired.functions.find((f) => f.handler === h)!;
      expect(stack.functions[h].name).toBe(deployed.name);
      expect(local.timeoutMs / 1000).toBe(deployed.timeout);
      expect(local.memoryMb).toBe(deployed.memory);
      expect(deployed.timeout).toBe(FUNCTIONS[h].timeoutSeconds);
      // The local runtime also sets what Lambda itself provides (region, endpoints).
      const localKeys = Object.keys(local.env).filter((k) => !k.startsWith('AWS_')).sort();
      expect(localKeys, h).toEqual(Object.keys(deployed.env).sort());
    }
    // No function holds a signing key; the authorizer alone knows where the keys are.
    const holders = HANDLER_NAMES.filter((h) => ENV.signingKeysParameter in stack.functions[h].config.env);
    expect(holders).toEqual(['authorizer']);
    for (const h of HANDLER_NAMES) for (const v of Object.values(stack.functions[h].config.env)) expect(v).not.toMatch(/^[A-Za-z0-9_-]{86}$/);
  });

  it('creates the queues with the same visibility, retention and redrive', async () => {
    const local = { [stack.names.queue]: stack.queues.queueUrl, [stack.names.dlq]: stack.queues.dlqUrl };
    expect(Object.keys(local).sort()).toEqual(desired.queues.map((q) => q.name).sort());
    for (const q of desired.queues) {
      const { Attributes = {} } = await stack.sqs.send(new GetQueueAttributesCommand({ QueueUrl: local[q.name], AttributeNames: ['All'] }));
      for (const [k, v] of Object.entries(q.attributes)) {
        if (k !== 'RedrivePolicy') {
          expect(Attributes[k as keyof typeof Attributes], `${q.name} ${k}`).toBe(v);
          continue;
        }
        const target = (p: string) => {
          const { deadLetterTargetArn, maxReceiveCount } = JSON.parse(p) as { deadLetterTargetArn: string; maxReceiveCount: number };
          return { queue: deadLetterTargetArn.split(':').pop(), maxReceiveCount: Number(maxReceiveCount) };
        };
        expect(target(Attributes.RedrivePolicy!)).toEqual(target(v));
      }
    }
  });

  it('creates the tables with the same keys and indexes', async () => {
    for (const t of desired.tables) {
      const { Table } = await stack.ddb.send(new DescribeTableCommand({ TableName: t.name }));
      const hash = Table!.KeySchema!.find((k) => k.KeyType === 'HASH')!.AttributeName;
      const range = Table!.KeySchema!.find((k) => k.KeyType === 'RANGE')?.AttributeName;
      expect({ hash, range }).toEqual({ hash: t.hashKey, range: t.rangeKey });
      const indexes = Object.fromEntries((Table!.GlobalSecondaryIndexes ?? []).map((i) => [i.IndexName, keySchemaName(i.KeySchema)]));
      expect(indexes).toEqual(t.indexes);
    }
  });

  it('feeds the same function from the same queue with the same batch size and partial failures', () => {
    expect(stack.poller.settings).toEqual({
      batchSize: desired.mapping.batchSize,
      reportBatchItemFailures: desired.mapping.responseTypes.includes('ReportBatchItemFailures'),
    });
    expect(desired.mapping.handler).toBe(EVENT_SOURCE.handler);
    expect(desired.mapping.queueArn.split(':').pop()).toBe(stack.names.queueName(EVENT_SOURCE.queue));
  });

  it('builds a bundle for every function it declares, and only those', () => {
    const built = readdirSync(defaultBundleDir(), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    expect(built.sort()).toEqual([...HANDLER_NAMES].sort());
    expect(desired.functions.map((f) => f.handler).sort()).toEqual([...HANDLER_NAMES].sort());
    for (const h of HANDLER_NAMES) expect(path.basename(path.dirname(FUNCTIONS[h].source))).toBe('lambdas');
  });
});
