/**
 * dynalite's read streams close their LevelDB iterators (src/local/dynalite-streams.ts): after a
 * few hundred Queries, Scans and GetItems the database holds no open iterator. Without the fix
 * every Query leaves one behind, so this fails with hundreds (issue 16's leak).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import v8 from 'node:v8';
import { createRequire } from 'node:module';
import { CreateTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand, QueryCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { startDynamo, type LocalDynamo } from '../src/local/dynamodb.js';

let dynamo: LocalDynamo;
let client: DynamoDBClient;

/** The iterator classes of the memory-level copy dynalite itself loads. */
async function iteratorClasses(): Promise<Array<new (...a: never[]) => unknown>> {
  const fromDynalite = createRequire(createRequire(import.meta.url).resolve('dynalite'));
  const { MemoryLevel } = fromDynalite('memory-level') as { MemoryLevel: new () => any };
  const db = new MemoryLevel();
  await db.open();
  const classes = [db.values().constructor, db.keys().constructor, db.iterator().constructor];
  await db.close();
  return classes;
}

function openIterators(classes: Array<new (...a: never[]) => unknown>): number {
  return classes.reduce((n, c) => n + (v8.queryObjects(c, { format: 'count' }) as number), 0);
}

beforeAll(async () => {
  dynamo = await startDynamo({ host: '127.0.0.1', port: 0 });
  client = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  await client.send(
    new CreateTableCommand({
      TableName: 'leak-test',
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  for (let i = 0; i < 5; i++) {
    await client.send(new PutItemCommand({ TableName: 'leak-test', Item: { pk: { S: 'room' }, sk: { S: String(i) } } }));
  }
});

afterAll(async () => {
  client?.destroy();
  await dynamo?.close();
});

describe('dynalite read streams', () => {
  it('leave no LevelDB iterator open after Query, Scan (with and without Limit) and GetItem', async () => {
    const classes = await iteratorClasses();
    const before = openIterators(classes);
    const rounds = 150;
    for (let i = 0; i < rounds; i++) {
      const q = await client.send(
        new QueryCommand({ TableName: 'leak-test', KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': { S: 'room' } } }),
      );
      expect(q.Count).toBe(5);
      // A Limit stops reading early: the stream is destroyed before its end.
      await client.send(new ScanCommand({ TableName: 'leak-test', Limit: 2 }));
      await client.send(new ScanCommand({ TableName: 'leak-test' }));
      await client.send(new GetItemCommand({ TableName: 'leak-test', Key: { pk: { S: 'room' }, sk: { S: '1' } } }));
    }
    // A few may still be closing; the leak leaves at least one per request (450 here).
    expect(openIterators(classes) - before).toBeLessThan(10);
  });
});
