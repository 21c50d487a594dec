/**
 * The connections table: one row per live WebSocket connection, keyed by connection_id, with
 * GSIs on room_id (fan-out) and user_id (per-user operations). Fan-out reads a room through a
 * Query on the room index, page by page; it never Scans.
 */
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { ROOM_INDEX, USER_INDEX } from '../stack/names.js';

/** API Gateway closes every connection after 2 hours; a row older than that is stale. */
export const MAX_CONNECTION_SECONDS = 2 * 3600;

/**
 * API Gateway answers 410 to @connections calls for a connection whose `$connect` is still
 * running (spec §4.3), and the connect handler writes the row during `$connect`. So a 410 for a
 * row younger than the longest handshake is no proof that the client is gone: deleting it would
 * cut a live client off every message for up to 2 hours. `connected_at` is taken when the
 * handshake starts, and the authorizer and `$connect` may each take up to the 29 s integration
 * timeout (spec §5): hence a minute.
 */
export const CONNECT_GRACE_SECONDS = 60;

export interface ConnectionRow {
  connection_id: string;
  room_id: string;
  user_id: string;
  connected_at: number; // ms
  expires_at: number; // epoch seconds (TTL)
}

export interface ConnectionStoreDeps {
  ddb: DynamoDBDocumentClient;
  table: string;
}

export function connectionRow(input: { connectionId: string; roomId: string; userId: string; connectedAt: number }): ConnectionRow {
  return {
    connection_id: input.connectionId,
    room_id: input.roomId,
    user_id: input.userId,
    connected_at: input.connectedAt,
    expires_at: Math.floor(input.connectedAt / 1000) + MAX_CONNECTION_SECONDS,
  };
}

export async function putConnection(deps: ConnectionStoreDeps, row: ConnectionRow): Promise<void> {
  await deps.ddb.send(new PutCommand({ TableName: deps.table, Item: row }));
}

/**
 * Delete a connection's row. With `connectedBefore` (epoch ms) only a row connected before then
 * is deleted, checked by DynamoDB in the same request; a younger row is kept and false returned.
 */
export async function deleteConnection(
  deps: ConnectionStoreDeps,
  connectionId: string,
  opts: { connectedBefore?: number } = {},
): Promise<boolean> {
  try {
    const res = await deps.ddb.send(
      new DeleteCommand({
        TableName: deps.table,
        Key: { connection_id: connectionId },
        ReturnValues: 'ALL_OLD',
        ...(opts.connectedBefore !== undefined
          ? { ConditionExpression: 'connected_at < :before', ExpressionAttributeValues: { ':before': opts.connectedBefore } }
          : {}),
      }),
    );
    return res.Attributes !== undefined;
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) return false;
    throw err;
  }
}

export async function getConnection(deps: ConnectionStoreDeps, connectionId: string): Promise<ConnectionRow | undefined> {
  const res = await deps.ddb.send(new GetCommand({ TableName: deps.table, Key: { connection_id: connectionId } }));
  return res.Item as ConnectionRow | undefined;
}

/** Pages of a room's connection ids, from the room index (eventually consistent, as GSIs are). */
export async function* roomConnectionPages(
  deps: ConnectionStoreDeps,
  roomId: string,
  pageSize?: number,
): AsyncGenerator<string[]> {
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const res = await deps.ddb.send(
      new QueryCommand({
        TableName: deps.table,
        IndexName: ROOM_INDEX,
        KeyConditionExpression: 'room_id = :r',
        ExpressionAttributeValues: { ':r': roomId },
        ProjectionExpression: 'connection_id',
        ExclusiveStartKey,
        ...(pageSize ? { Limit: pageSize } : {}),
      }),
    );
    yield (res.Items ?? []).map((i) => i.connection_id as string);
    ExclusiveStartKey = res.LastEvaluatedKey;
  } while (ExclusiveStartKey);
}

export async function listRoomConnectionIds(deps: ConnectionStoreDeps, roomId: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const page of roomConnectionPages(deps, roomId)) ids.push(...page);
  return ids;
}

async function collect(deps: ConnectionStoreDeps, input: Record<string, unknown>, scan: boolean): Promise<ConnectionRow[]> {
  const out: ConnectionRow[] = [];
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const cmd = { TableName: deps.table, ...input, ExclusiveStartKey };
    const res = scan ? await deps.ddb.send(new ScanCommand(cmd)) : await deps.ddb.send(new QueryCommand(cmd as never));
    out.push(...((res.Items ?? []) as ConnectionRow[]));
    ExclusiveStartKey = res.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return out;
}

/** Operator listing. A room or user uses its index; neither reads the whole table (operators only). */
export async function listConnections(
  deps: ConnectionStoreDeps,
  filter: { roomId?: string; userId?: string } = {},
): Promise<ConnectionRow[]> {
  let rows: ConnectionRow[];
  if (filter.roomId !== undefined) {
    // Both indexes project all attributes (rows are ~150 bytes), so one Query gives full rows.
    rows = await collect(deps, {
      IndexName: ROOM_INDEX,
      KeyConditionExpression: 'room_id = :r',
      ExpressionAttributeValues: { ':r': filter.roomId },
    }, false);
    if (filter.userId !== undefined) rows = rows.filter((r) => r.user_id === filter.userId);
  } else if (filter.userId !== undefined) {
    rows = await collect(deps, {
      IndexName: USER_INDEX,
      KeyConditionExpression: 'user_id = :u',
      ExpressionAttributeValues: { ':u': filter.userId },
    }, false);
  } else {
    rows = await collect(deps, {}, true);
  }
  return rows.sort((a, b) => a.connected_at - b.connected_at);
}
