/**
 * The operator core's test bed (prune, close-connections, dlq): the management API and SQS
 * mocked at the SDK boundary (aws-sdk-client-mock), a real local DynamoDB for the connections
 * table. Mocks are reset before each test.
 */
import { beforeEach } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { SQSClient } from '@aws-sdk/client-sqs';
import { useLocalDynamo } from './dynamo.js';
import { resourceNames } from '../../src/stack/names.js';
import { putConnection, type ConnectionRow } from '../../src/core/connections.js';

export const names = resourceNames('opscore');
export const db = useLocalDynamo(names);
export const management = mockClient(ApiGatewayManagementApiClient);
export const mgmt = new ApiGatewayManagementApiClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:1/x', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
export const sqsMock = mockClient(SQSClient);
export const sqs = new SQSClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
export const store = () => ({ ddb: db.ddb, table: names.connectionsTable });
export const noSleep = { sleep: async () => {} };
export const meta = { $metadata: {} };

export async function seed(rows: ConnectionRow[]) {
  for (const r of rows) await putConnection(store(), r);
}

beforeEach(() => {
  management.reset();
  sqsMock.reset();
});
