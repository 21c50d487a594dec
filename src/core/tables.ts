/**
 * Table definitions, shared by `hermes deploy` and the local stack so both create the same
 * schema: keys, the two indexes of the connections table, on-demand billing, TTL attribute.
 */
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { ROOM_INDEX, USER_INDEX, type ResourceNames } from './names.js';

export const TTL_ATTRIBUTE = 'expires_at';

export function connectionsTableDefinition(names: ResourceNames): CreateTableCommandInput {
  return {
    TableName: names.connectionsTable,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: 'connection_id', AttributeType: 'S' },
      { AttributeName: 'room_id', AttributeType: 'S' },
      { AttributeName: 'user_id', AttributeType: 'S' },
    ],
    KeySchema: [{ AttributeName: 'connection_id', KeyType: 'HASH' }],
    // ALL: rows are ~150 bytes, and operators list a room's or user's rows from the index.
    // connection_id as the sort key: DynamoDB needs none, but dynalite tells apart index
    // entries under one partition by a 24-bit hash, so a room of thousands would silently
    // lose connections locally (even odds of a collision at about 5,000 per room).
    GlobalSecondaryIndexes: [ROOM_INDEX, USER_INDEX].map((IndexName) => ({
      IndexName,
      KeySchema: [
        { AttributeName: IndexName === ROOM_INDEX ? 'room_id' : 'user_id', KeyType: 'HASH' },
        { AttributeName: 'connection_id', KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'ALL' },
    })),
  };
}

export function tokensTableDefinition(names: ResourceNames): CreateTableCommandInput {
  return {
    TableName: names.tokensTable,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: 'user_id', AttributeType: 'S' },
      { AttributeName: 'token_id', AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: 'user_id', KeyType: 'HASH' },
      { AttributeName: 'token_id', KeyType: 'RANGE' },
    ],
  };
}

/** "hash" or "hash+range": a key schema in one comparable string. */
export function keySchemaName(schema: Array<{ AttributeName?: string; KeyType?: string }> | undefined): string {
  const of = (type: string) => schema?.find((k) => k.KeyType === type)?.AttributeName;
  return [of('HASH'), of('RANGE')].filter(Boolean).join('+');
}

export function tableDefinitions(names: ResourceNames): CreateTableCommandInput[] {
  return [connectionsTableDefinition(names), tokensTableDefinition(names)];
}
