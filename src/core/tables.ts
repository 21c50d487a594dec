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
    GlobalSecondaryIndexes: [
      // ALL: rows are ~150 bytes, and operators list a room's or user's rows from the index.
      { IndexName: ROOM_INDEX, KeySchema: [{ AttributeName: 'room_id', KeyType: 'HASH' }], Projection: { ProjectionType: 'ALL' } },
      { IndexName: USER_INDEX, KeySchema: [{ AttributeName: 'user_id', KeyType: 'HASH' }], Projection: { ProjectionType: 'ALL' } },
    ],
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

export function tableDefinitions(names: ResourceNames): CreateTableCommandInput[] {
  return [connectionsTableDefinition(names), tokensTableDefinition(names)];
}
