/**
 * Read capacity per message: fan-out through the room index (Query on the GSI) against a Scan
 * of the whole connections table with a filter on room_id, as the original design did.
 * Computed from the rules of docs/api-gateway-websocket.md §7, not taken from the emulator: a read's cost is the sum of
 * the sizes of the items it reads (evaluated, before any filter; projections do not reduce it),
 * rounded up to 4 KB per request page, times 0.5 for an eventually consistent read. The items
 * each Scan page evaluated are read back (same start key, Limit = ScannedCount, no filter) to
 * size them. dynalite's own ConsumedCapacity is reported alongside as a cross-check.
 */
import { randomBytes } from 'node:crypto';
import { CreateTableCommand, DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, ScanCommand, paginateQuery, paginateScan, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { connectionRow, roomConnectionIdsQuery, type ConnectionRow } from '../../src/core/connections.js';
import { createTableInput } from '../../src/stack/tables.js';
import { resourceNames } from '../../src/stack/names.js';
import { round } from '../../src/bench/stats.js';

/** DynamoDB item size: per attribute, the name's UTF-8 bytes plus the value's size. */
export function itemSize(item: Record<string, unknown>): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) {
    size += Buffer.byteLength(name);
    if (typeof value === 'string') size += Buffer.byteLength(value);
    else if (typeof value === 'number') size += numberSize(value);
    else size += Buffer.byteLength(JSON.stringify(value)); // not used by connection rows
  }
  return size;
}

/** About 1 byte per 2 significant digits, plus 1 (DynamoDB item size rules). */
function numberSize(n: number): number {
  const digits = String(Math.abs(n)).replace('.', '').replace(/^0+/, '').replace(/0+$/, '').length || 1;
  return Math.ceil(digits / 2) + 1;
}

/** Eventually consistent read units for one request page that read `bytes`. */
export function readUnits(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / 4096)) * 0.5;
}

export interface ReadCost {
  requests: number;
  itemsRead: number;
  itemsReturned: number;
  bytesRead: number;
  rcu: number;
  /** What dynalite reported (ReturnConsumedCapacity TOTAL). */
  reportedRcu: number;
}

export interface RcuReport {
  rooms: number;
  perRoom: number;
  tableItems: number;
  averageItemBytes: number;
  /** Per message (one room's fan-out), averaged over the sampled rooms. */
  query: ReadCost;
  scan: ReadCost;
  ratio: number;
  sampledRooms: number;
  method: string;
}

async function seed(ddb: DynamoDBDocumentClient, table: string, rooms: number, perRoom: number): Promise<ConnectionRow[]> {
  const now = Date.now();
  const rows: ConnectionRow[] = [];
  for (let r = 0; r < rooms; r++) {
    for (let i = 0; i < perRoom; i++) {
      // API Gateway connection ids are 16 characters of base64, e.g. "L0SM9cOFvHcCIhw=".
      const connectionId = randomBytes(12).toString('base64').slice(0, 15) + '=';
      rows.push(connectionRow({ connectionId, roomId: `room-${String(r).padStart(3, '0')}`, userId: `user-${r}-${i}`, connectedAt: now }));
    }
  }
  const batches: ConnectionRow[][] = [];
  for (let i = 0; i < rows.length; i += 25) batches.push(rows.slice(i, i + 25));
  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      let pending: Record<string, unknown>[] = batches[next++].map((Item) => ({ PutRequest: { Item } }));
      for (let attempt = 0; pending.length && attempt < 10; attempt++) {
        const res = await ddb.send(new BatchWriteCommand({ RequestItems: { [table]: pending as never } }));
        pending = (res.UnprocessedItems?.[table] ?? []) as Record<string, unknown>[];
      }
      if (pending.length) throw new Error(`could not write ${pending.length} seed rows`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return rows;
}

const emptyCost = (): ReadCost => ({ requests: 0, itemsRead: 0, itemsReturned: 0, bytesRead: 0, rcu: 0, reportedRcu: 0 });

/** One request page: its cost is the size of what it read, rounded up per page (docs/api-gateway-websocket.md §7). */
function addPage(cost: ReadCost, itemsRead: number, itemsReturned: number, bytes: number, reported = 0): void {
  cost.requests++;
  cost.itemsRead += itemsRead;
  cost.itemsReturned += itemsReturned;
  cost.bytesRead += bytes;
  cost.rcu += readUnits(bytes);
  cost.reportedRcu += reported;
}

async function queryCost(ddb: DynamoDBDocumentClient, table: string, room: string, sizes: Map<string, number>): Promise<ReadCost> {
  const cost = emptyCost();
  // Exactly fan-out's read of a room, page by page.
  for await (const res of paginateQuery({ client: ddb }, { ...roomConnectionIdsQuery(table, room), ReturnConsumedCapacity: 'TOTAL' })) {
    const items = res.Items ?? [];
    // The GSI projects ALL attributes, so each index entry is as large as the item.
    const bytes = items.reduce((sum, i) => sum + (sizes.get(i.connection_id as string) ?? 0), 0);
    addPage(cost, res.ScannedCount ?? items.length, items.length, bytes, res.ConsumedCapacity?.CapacityUnits);
  }
  return cost;
}

async function scanCost(ddb: DynamoDBDocumentClient, table: string, room: string, sizes: Map<string, number>): Promise<ReadCost> {
  const cost = emptyCost();
  const scan = {
    TableName: table,
    FilterExpression: 'room_id = :r',
    ExpressionAttributeValues: { ':r': room },
    ProjectionExpression: 'connection_id',
    ReturnConsumedCapacity: 'TOTAL' as const,
  };
  // Each page starts where the one before it stopped.
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  for await (const res of paginateScan({ client: ddb }, scan)) {
    const scanned = res.ScannedCount ?? 0;
    // The filter hides what the page evaluated; read the same page unfiltered to size it.
    const page = await ddb.send(new ScanCommand({ TableName: table, ExclusiveStartKey, Limit: scanned, ProjectionExpression: 'connection_id' }));
    const bytes = (page.Items ?? []).reduce((sum, i) => sum + (sizes.get(i.connection_id as string) ?? 0), 0);
    addPage(cost, scanned, res.Items?.length ?? 0, bytes, res.ConsumedCapacity?.CapacityUnits);
    ExclusiveStartKey = res.LastEvaluatedKey;
  }
  return cost;
}

/** Seeds a scratch table of `rooms` × `perRoom` connection rows, measures, and drops it. */
export async function measureRcu(ddb: DynamoDBDocumentClient, opts: { rooms?: number; perRoom?: number; sample?: number } = {}): Promise<RcuReport> {
  const rooms = opts.rooms ?? 100;
  const perRoom = opts.perRoom ?? 100;
  const def = createTableInput('connections', resourceNames(`rcu-${randomBytes(3).toString('hex')}`));
  const table = def.TableName!;
  await ddb.send(new CreateTableCommand(def));
  try {
    const rows = await seed(ddb, table, rooms, perRoom);
    const sizes = new Map(rows.map((r) => [r.connection_id, itemSize(r as unknown as Record<string, unknown>)]));
    const sampled = Array.from({ length: Math.min(rooms, opts.sample ?? 5) }, (_, i) => `room-${String(Math.floor((i * rooms) / Math.min(rooms, opts.sample ?? 5))).padStart(3, '0')}`);
    const q: ReadCost[] = [];
    const s: ReadCost[] = [];
    for (const room of sampled) {
      q.push(await queryCost(ddb, table, room, sizes));
      s.push(await scanCost(ddb, table, room, sizes));
    }
    const avg = (costs: ReadCost[]): ReadCost => {
      const mean = (f: (c: ReadCost) => number) => round(costs.reduce((a, c) => a + f(c), 0) / costs.length, 2);
      return {
        requests: mean((c) => c.requests),
        itemsRead: mean((c) => c.itemsRead),
        itemsReturned: mean((c) => c.itemsReturned),
        bytesRead: mean((c) => c.bytesRead),
        rcu: mean((c) => c.rcu),
        reportedRcu: mean((c) => c.reportedRcu),
      };
    };
    const query = avg(q);
    const scan = avg(s);
    const totalBytes = [...sizes.values()].reduce((a, b) => a + b, 0);
    return {
      rooms,
      perRoom,
      tableItems: rows.length,
      averageItemBytes: round(totalBytes / rows.length, 1),
      query,
      scan,
      ratio: round(scan.rcu / query.rcu, 1),
      sampledRooms: sampled.length,
      method:
        'RCU computed from docs/api-gateway-websocket.md §7: per request page, the summed size of the items read (a Scan evaluates every item of the page ' +
        'before its filter; projections do not reduce the cost; a GSI with projection ALL reads whole items), rounded up to 4 KB, ' +
        'x 0.5 (eventually consistent). Item size = attribute names + values (strings in UTF-8 bytes, numbers ~1 byte per 2 digits + 1).',
    };
  } finally {
    await ddb.send(new DeleteTableCommand({ TableName: table })).catch(() => undefined);
  }
}
