/**
 * Local DynamoDB: dynalite (LevelDB-backed, speaks the real DynamoDB JSON protocol), persisted
 * in the state dir or kept in memory.
 *
 * Deviation from AWS (docs/api-gateway-websocket.md §7): TTL is not swept; expired rows stay until deleted, as on AWS
 * for up to days, so code that forgets to filter on expires_at is caught here too.
 */
import { createRequire } from 'node:module';
import type { Server } from 'node:http';
import { DescribeTableCommand, CreateTableCommand, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { bindPort, closeServer } from './bind.js';
import { fixDynaliteStreams } from './dynalite-streams.js';
import { tableDefinitions } from '../stack/tables.js';
import { meterDynamo, type UsageMeter } from './usage.js';
import type { ResourceNames } from '../stack/names.js';

const require = createRequire(import.meta.url);

export interface LocalDynamo {
  endpoint: string;
  port: number;
  close(): Promise<void>;
}

/**
 * With a meter, every request's read and write units are counted (src/local/usage.ts);
 * `indexesOf(table)` says how many global secondary indexes each write also goes to.
 */
export async function startDynamo(opts: {
  host: string;
  port: number;
  path?: string;
  meter?: { usage: UsageMeter; indexesOf: (table: string) => number };
}): Promise<LocalDynamo> {
  fixDynaliteStreams();
  const dynalite = require('dynalite') as (o: object) => Server;
  const server = dynalite({ path: opts.path, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  if (opts.meter) {
    const [handler] = server.listeners('request') as Array<Parameters<typeof meterDynamo>[0]>;
    server.removeAllListeners('request');
    server.on('request', meterDynamo(handler, opts.meter.usage, opts.meter.indexesOf));
  }
  const port = await bindPort(server, opts.port, opts.host, 'DynamoDB', '--dynamodb-port');
  return { endpoint: `http://${opts.host}:${port}`, port, close: () => closeServer(server) };
}

/** Create the stage's tables unless they exist (a persisted state dir keeps them). */
export async function ensureTables(ddb: DynamoDBDocumentClient, names: ResourceNames): Promise<void> {
  for (const def of tableDefinitions(names)) {
    try {
      await ddb.send(new DescribeTableCommand({ TableName: def.TableName }));
    } catch (err) {
      if (!(err instanceof ResourceNotFoundException)) throw err;
      await ddb.send(new CreateTableCommand(def));
    }
  }
}
