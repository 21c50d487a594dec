/**
 * Listings read every page: the room index (fan-out's read), the operator's connection list and
 * the token list follow LastEvaluatedKey to the end through the SDK's paginators. dynalite
 * returns a whole table in one page, so the pages are played at the SDK boundary
 * (aws-sdk-client-mock on a real DynamoDBDocumentClient).
 */
import { describe, it, expect, beforeEach } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { listConnections, listRoomConnectionIds } from '../src/core/connections.js';
import { listTokens } from '../src/core/tokens.js';
import { ROOM_INDEX, USER_INDEX } from '../src/stack/names.js';

const ddb = DynamoDBDocumentClient.from(
  new DynamoDBClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }),
);
const mock = mockClient(ddb);
const table = 'hermes-test-connections';

/**
 * Answers successive calls of `command` with `pages`, and records each request's input as sent
 * (the paginator reuses one input object, so the mock's own call log shows only its last state).
 */
function playPages(command: typeof QueryCommand | typeof ScanCommand, pages: Array<Record<string, unknown>>): Array<Record<string, unknown>> {
  const sent: Array<Record<string, unknown>> = [];
  let next = 0;
  mock.on(command as typeof QueryCommand).callsFake((input: Record<string, unknown>) => {
    sent.push(structuredClone(input));
    if (next >= pages.length) throw new Error('read past the last page');
    return pages[next++];
  });
  return sent;
}

const row = (id: string, connectedAt: number, room = 'r1', user = 'u1') => ({ connection_id: id, room_id: room, user_id: user, connected_at: connectedAt, expires_at: 0 });

beforeEach(() => mock.reset());

describe('room index listing (fan-out read)', () => {
  it('reads every page of the room index Query, starting each where the last stopped, and never Scans', async () => {
    // Prepare
    const key1 = { connection_id: 'c2', room_id: 'r1' };
    const key2 = { connection_id: 'c3', room_id: 'r1' };
    const calls = playPages(QueryCommand, [
      { Items: [{ connection_id: 'c1' }, { connection_id: 'c2' }], LastEvaluatedKey: key1 },
      { Items: [{ connection_id: 'c3' }], LastEvaluatedKey: key2 },
      { Items: [{ connection_id: 'c4' }] },
    ]);
    // Act
    const ids = await listRoomConnectionIds({ ddb, table }, 'r1');
    // Assess
    expect(ids).toEqual(['c1', 'c2', 'c3', 'c4']);
    expect(calls).toHaveLength(3);
    expect(calls.map((i) => i.ExclusiveStartKey)).toEqual([undefined, key1, key2]);
    for (const input of calls) {
      expect(input).toMatchObject({ TableName: table, IndexName: ROOM_INDEX, ExpressionAttributeValues: { ':r': 'r1' }, ProjectionExpression: 'connection_id' });
      expect(input.Limit).toBeUndefined();
    }
    expect(mock.commandCalls(ScanCommand)).toHaveLength(0);
  });
});

describe('operator connection listing', () => {
  it('reads every page of a Scan for the whole table and sorts by connection time', async () => {
    const calls = playPages(ScanCommand, [
      { Items: [row('late', 30), row('early', 10)], LastEvaluatedKey: { connection_id: 'early' } },
      { Items: [row('middle', 20)] },
    ]);
    const rows = await listConnections({ ddb, table });
    expect(rows.map((r) => r.connection_id)).toEqual(['early', 'middle', 'late']);
    expect(calls.map((i) => i.ExclusiveStartKey)).toEqual([undefined, { connection_id: 'early' }]);
  });

  it('reads every page of the user index Query for one user', async () => {
    const calls = playPages(QueryCommand, [
      { Items: [row('a', 1, 'r1', 'u9')], LastEvaluatedKey: { connection_id: 'a' } },
      { Items: [row('b', 2, 'r2', 'u9')] },
    ]);
    const rows = await listConnections({ ddb, table }, { userId: 'u9' });
    expect(rows.map((r) => r.connection_id)).toEqual(['a', 'b']);
    expect(calls).toMatchObject([
      { IndexName: USER_INDEX, ExclusiveStartKey: undefined },
      { IndexName: USER_INDEX, ExclusiveStartKey: { connection_id: 'a' } },
    ]);
    expect(mock.commandCalls(ScanCommand)).toHaveLength(0);
  });
});

describe('token listing', () => {
  const token = (id: string, user: string, expiresAt: number) => ({ user_id: user, token_id: id, room_id: 'r', issued_at: 0, expires_at: expiresAt });
  const now = () => 1_000_000;

  it('reads every page of a user\'s tokens and leaves out the expired ones', async () => {
    const calls = playPages(QueryCommand, [
      { Items: [token('t1', 'u1', 2000), token('old', 'u1', 5)], LastEvaluatedKey: { user_id: 'u1', token_id: 'old' } },
      { Items: [token('t2', 'u1', 3000)] },
    ]);
    const rows = await listTokens({ ddb, table: 'tokens' }, { userId: 'u1', now });
    expect(rows.map((r) => r.token_id)).toEqual(['t1', 't2']);
    expect(calls.map((i) => i.ExclusiveStartKey)).toEqual([undefined, { user_id: 'u1', token_id: 'old' }]);
  });

  it('reads every page of the whole table without a user', async () => {
    const calls = playPages(ScanCommand, [
      { Items: [token('a', 'u1', 2000)], LastEvaluatedKey: { user_id: 'u1', token_id: 'a' } },
      { Items: [token('b', 'u2', 5)] },
    ]);
    const rows = await listTokens({ ddb, table: 'tokens' }, { includeExpired: true, now });
    expect(rows.map((r) => r.token_id)).toEqual(['a', 'b']);
    expect(calls.map((i) => i.ExclusiveStartKey)).toEqual([undefined, { user_id: 'u1', token_id: 'a' }]);
  });
});
