/**
 * The connections table: one row per live WebSocket connection, keyed by connection_id, with
 * GSIs on room_id (fan-out) and user_id (messages to one user, per-user operations). Fan-out reads a room through a
 * Query on the room index (every page, through the SDK's paginator); it never Scans.
 */
import { DeleteCommand, GetCommand, PutCommand, paginateQuery, paginateScan } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient, QueryCommandInput, QueryCommandOutput } from '@aws-sdk/lib-dynamodb';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { ROOM_INDEX, USER_INDEX } from '../stack/names.js';

/** API Gateway closes every connection after 2 hours; a row older than that is stale. */
export const MAX_CONNECTION_SECONDS = 2 * 3600;

export interface ConnectionRow {
  connection_id: string;
  room_id: string;
  user_id: string;
  connected_at: number; // ms
  expires_at: number; // epoch seconds (TTL)
  /** The token the authorizer accepted for this connection (its jti), so revoking it can close it. */
  token_id?: string;
}

export interface ConnectionStoreDeps {
  ddb: DynamoDBDocumentClient;
  table: string;
}

export function connectionRow(input: { connectionId: string; roomId: string; userId: string; connectedAt: number; tokenId?: string }): ConnectionRow {
  return {
    connection_id: input.connectionId,
    room_id: input.roomId,
    user_id: input.userId,
    connected_at: input.connectedAt,
    expires_at: Math.floor(input.connectedAt / 1000) + MAX_CONNECTION_SECONDS,
    ...(input.tokenId ? { token_id: input.tokenId } : {}),
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

const byRoom = (table: string, roomId: string): QueryCommandInput => ({
  TableName: table,
  IndexName: ROOM_INDEX,
  KeyConditionExpression: 'room_id = :r',
  ExpressionAttributeValues: { ':r': roomId },
});

/**
 * Fan-out's read of a room: its connection ids from the room index (eventually consistent, as
 * GSIs are). The bench prices this same request against a Scan (scripts/bench/rcu.ts).
 */
export const roomConnectionIdsQuery = (table: string, roomId: string): QueryCommandInput => ({
  ...byRoom(table, roomId),
  ProjectionExpression: 'connection_id',
});

export async function listRoomConnectionIds(deps: ConnectionStoreDeps, roomId: string): Promise<string[]> {
  return connectionIds(deps, roomConnectionIdsQuery(deps.table, roomId));
}

const byUser = (table: string, userId: string): QueryCommandInput => ({
  TableName: table,
  IndexName: USER_INDEX,
  KeyConditionExpression: 'user_id = :u',
  ExpressionAttributeValues: { ':u': userId },
});

/** A message to one user reaches each of the user's connections, in any room, from the user index. */
export async function listUserConnectionIds(deps: ConnectionStoreDeps, userId: string): Promise<string[]> {
  return connectionIds(deps, { ...byUser(deps.table, userId), ProjectionExpression: 'connection_id' });
}

async function connectionIds(deps: ConnectionStoreDeps, query: QueryCommandInput): Promise<string[]> {
  const ids: string[] = [];
  for await (const page of paginateQuery({ client: deps.ddb }, query)) {
    for (const item of page.Items ?? []) ids.push(item.connection_id as string);
  }
  return ids;
}

/** Every row of a Query's or a Scan's pages. */
async function collect(pages: AsyncIterable<Pick<QueryCommandOutput, 'Items'>>): Promise<ConnectionRow[]> {
  const out: ConnectionRow[] = [];
  for await (const page of pages) out.push(...((page.Items ?? []) as ConnectionRow[]));
  return out;
}

/** Operator listing. A room or user uses its index; neither reads the whole table (operators only). */
export async function listConnections(
  deps: ConnectionStoreDeps,
  filter: { roomId?: string; userId?: string } = {},
): Promise<ConnectionRow[]> {
  const paging = { client: deps.ddb };
  let rows: ConnectionRow[];
  if (filter.roomId !== undefined) {
    // Both indexes project all attributes (rows are ~150 bytes), so one Query gives full rows.
    rows = await collect(paginateQuery(paging, byRoom(deps.table, filter.roomId)));
    if (filter.userId !== undefined) rows = rows.filter((r) => r.user_id === filter.userId);
  } else if (filter.userId !== undefined) {
    rows = await collect(paginateQuery(paging, byUser(deps.table, filter.userId)));
  } else {
    rows = await collect(paginateScan(paging, { TableName: deps.table }));
  }
  return rows.sort((a, b) => a.connected_at - b.connected_at);
}
