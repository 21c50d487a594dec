/** A real local DynamoDB (dynalite, in memory) on a free port, with a stage's tables, per test file. */
import { beforeAll, afterAll } from 'vitest';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { startDynamo, ensureTables, type LocalDynamo } from '../../src/local/dynamodb.js';
import { createDocumentClient } from '../../src/core/clients.js';
import type { ResourceNames } from '../../src/stack/names.js';

export interface TestDynamo {
  ddb: DynamoDBDocumentClient;
  endpoint: string;
}

/** Starts before the file's tests and stops after them; read the fields inside tests only. */
export function useLocalDynamo(names: ResourceNames): TestDynamo {
  let server: LocalDynamo | undefined;
  const db = {} as TestDynamo;
  beforeAll(async () => {
    server = await startDynamo({ host: '127.0.0.1', port: 0 });
    db.endpoint = server.endpoint;
    db.ddb = await createDocumentClient({ region: 'us-east-1', endpoint: server.endpoint });
    await ensureTables(db.ddb, names);
  });
  afterAll(async () => {
    db.ddb?.destroy();
    await server?.close();
  });
  return db;
}
