/**
 * The tables' schemas, declared once and read by `hermes deploy` and the local stack alike:
 * keys, indexes, on-demand billing, the TTL attribute.
 */
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import type { TableKey } from './definition.js';
import { FRAME_INDEX, ROOM_INDEX, USER_INDEX, type ResourceNames } from './names.js';

export const TTL_ATTRIBUTE = 'expires_at';

export interface TableDefinition {
  /** Attribute → DynamoDB type of every key attribute (table and indexes). */
  attributes: Record<string, 'S' | 'N'>;
  hash: string;
  range?: string;
  /** Global secondary indexes, all projecting ALL. */
  indexes: Array<{ name: string; hash: string; range?: string }>;
  /**
   * Local secondary indexes (same partition key as the table, another sort key), projecting
   * keys only. Unlike a GSI they can be read with ConsistentRead, and exist only if created
   * with the table.
   */
  localIndexes?: Array<{ name: string; range: string }>;
  /** Rows carry `expires_at` (epoch seconds); DynamoDB deletes them some time after. */
  ttl: boolean;
}

export const TABLES: Record<TableKey, TableDefinition> = {
  // Indexes project ALL: rows are ~150 bytes, and operators list a room's or user's rows from
  // the index. connection_id is the indexes' sort key: DynamoDB needs none, but dynalite tells
  // apart index entries under one partition by a 24-bit hash, so a room of thousands would
  // silently lose connections locally (even odds of a collision at about 5,000 per room).
  connections: {
    attributes: { connection_id: 'S', room_id: 'S', user_id: 'S' },
    hash: 'connection_id',
    indexes: [
      { name: ROOM_INDEX, hash: 'room_id', range: 'connection_id' },
      { name: USER_INDEX, hash: 'user_id', range: 'connection_id' },
    ],
    ttl: true,
  },
  tokens: {
    attributes: { user_id: 'S', token_id: 'S' },
    hash: 'user_id',
    range: 'token_id',
    indexes: [],
    ttl: true,
  },
  // One item per message of a stream (`room:<id>` or `user:<id>`) at its sequence number, and
  // the stream's high-water mark at seq 0 (src/core/history.ts). The frame id index is what
  // makes a redelivered message find its number again, read consistently; it keeps keys only.
  history: {
    attributes: { stream_id: 'S', seq: 'N', frame_id: 'S' },
    hash: 'stream_id',
    range: 'seq',
    indexes: [],
    localIndexes: [{ name: FRAME_INDEX, range: 'frame_id' }],
    ttl: true,
  },
};

const keySchema = (hash: string, range?: string) => [
  { AttributeName: hash, KeyType: 'HASH' as const },
  ...(range ? [{ AttributeName: range, KeyType: 'RANGE' as const }] : []),
];

/** What CreateTable gets for a table of the stage. */
export function createTableInput(key: TableKey, names: ResourceNames): CreateTableCommandInput {
  const t = TABLES[key];
  return {
    TableName: names.table(key),
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: Object.entries(t.attributes).map(([AttributeName, AttributeType]) => ({ AttributeName, AttributeType })),
    KeySchema: keySchema(t.hash, t.range),
    ...(t.indexes.length
      ? { GlobalSecondaryIndexes: t.indexes.map((i) => ({ IndexName: i.name, KeySchema: keySchema(i.hash, i.range), Projection: { ProjectionType: 'ALL' as const } })) }
      : {}),
    ...(t.localIndexes?.length
      ? { LocalSecondaryIndexes: t.localIndexes.map((i) => ({ IndexName: i.name, KeySchema: keySchema(t.hash, i.range), Projection: { ProjectionType: 'KEYS_ONLY' as const } })) }
      : {}),
  };
}

/** "hash" or "hash+range": a key schema in one comparable string. */
export function keySchemaName(schema: Array<{ AttributeName?: string; KeyType?: string }> | undefined): string {
  const of = (type: string) => schema?.find((k) => k.KeyType === type)?.AttributeName;
  return [of('HASH'), of('RANGE')].filter(Boolean).join('+');
}

export const TABLE_KEYS = Object.keys(TABLES) as TableKey[];

export function tableDefinitions(names: ResourceNames): CreateTableCommandInput[] {
  return TABLE_KEYS.map((k) => createTableInput(k, names));
}
