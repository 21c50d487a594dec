/**
 * Dollars from measured usage (src/local/usage.ts) and a price table (./prices.ts). A bench
 * meters a window (a round of messages, a wave of connects) and divides by what it delivered:
 * dollars per million delivered notifications, per million connects. hermes's own share
 * (Lambda, DynamoDB, SQS) is kept apart from API Gateway's charges, which any design on API
 * Gateway WebSockets pays. Empty receives are left out: the local poller short-polls, while
 * Lambda's long-polls, and that is priced as the stage's cost at rest (`atRest`).
 */
import type { HandlerName } from '../stack/definition.js';
import { sumUsage, type Usage } from '../local/usage.js';
import type { PriceTable } from './prices.js';

export type Architecture = 'arm64' | 'x86_64';

export interface CostLine {
  item: string;
  quantity: number;
  unit: string;
  usd: number;
  /** hermes: what hermes's own design costs; apigw: what API Gateway WebSockets charges anyway. */
  share: 'hermes' | 'apigw';
}

export interface Priced {
  lines: CostLine[];
  hermesUsd: number;
  apigwMessagesUsd: number;
  apigwMinutesUsd: number;
  totalUsd: number;
}

export function priceUsage(u: Usage, table: PriceTable, arch: Architecture = 'arm64'): Priced {
  const p = table.prices;
  const gbSecond = arch === 'arm64' ? p.lambdaGbSecondArm64 : p.lambdaGbSecondX86;
  const lines: CostLine[] = [];
  for (const [h, f] of Object.entries(u.lambda) as Array<[HandlerName, NonNullable<Usage['lambda'][HandlerName]>]>) {
    lines.push({ item: `Lambda ${h} requests`, quantity: f.invocations, unit: 'requests', usd: f.invocations * p.lambdaRequest.usd, share: 'hermes' });
    const gbs = (f.billedMs / 1000) * (f.memoryMb / 1024);
    lines.push({ item: `Lambda ${h} duration (${f.memoryMb} MB, ${arch})`, quantity: gbs, unit: 'GB-s', usd: gbs * gbSecond.usd, share: 'hermes' });
  }
  lines.push({ item: 'DynamoDB reads', quantity: u.dynamodb.readUnits, unit: 'RRU', usd: u.dynamodb.readUnits * p.dynamodbReadUnit.usd, share: 'hermes' });
  lines.push({ item: 'DynamoDB writes', quantity: u.dynamodb.writeUnits, unit: 'WRU', usd: u.dynamodb.writeUnits * p.dynamodbWriteUnit.usd, share: 'hermes' });
  const sqs = u.sqs.requests - u.sqs.emptyReceives;
  lines.push({ item: 'SQS requests (without empty receives)', quantity: sqs, unit: 'requests', usd: sqs * p.sqsRequest.usd, share: 'hermes' });
  const messages = u.apigw.messagesIn + u.apigw.messagesOut;
  lines.push({ item: 'API Gateway messages', quantity: messages, unit: 'messages', usd: messages * p.apigwMessage.usd, share: 'apigw' });
  lines.push({ item: 'API Gateway connection minutes', quantity: u.apigw.connectionMinutes, unit: 'minutes', usd: u.apigw.connectionMinutes * p.apigwConnectionMinute.usd, share: 'apigw' });
  const sum = (f: (l: CostLine) => boolean) => lines.filter(f).reduce((s, l) => s + l.usd, 0);
  return {
    lines: lines.filter((l) => l.quantity > 0),
    hermesUsd: sum((l) => l.share === 'hermes'),
    apigwMessagesUsd: sum((l) => l.item === 'API Gateway messages'),
    apigwMinutesUsd: sum((l) => l.item === 'API Gateway connection minutes'),
    totalUsd: sum(() => true),
  };
}

/** A priced window divided by what it delivered: dollars per million of `unit`. */
export interface UnitCost {
  unit: string;
  count: number;
  perMillion: { hermes: number; apigwMessages: number; total: number };
  priced: Priced;
}

export function perMillion(priced: Priced, unit: string, count: number): UnitCost {
  const f = count > 0 ? 1e6 / count : 0;
  // Connection minutes are a matter of time, not of notifications or connects: left out here.
  return { unit, count, perMillion: { hermes: priced.hermesUsd * f, apigwMessages: priced.apigwMessagesUsd * f, total: (priced.hermesUsd + priced.apigwMessagesUsd) * f }, priced };
}

export const MINUTES_PER_MONTH = 30 * 24 * 60;

/**
 * Assumed, not measured: an SQS event source mapping keeps long-polling its queue while it is
 * empty. The Lambda documentation says the mapping starts with five pollers; each long poll
 * waits up to 20 s, so an idle queue takes 5 x 3 receives a minute.
 */
export const IDLE_POLLERS = 5;
export const LONG_POLL_SECONDS = 20;

/** A stage for a month with nothing connected and nothing sent: the event source's long polls. */
export function atRest(table: PriceTable): { sqsRequests: number; usd: number } {
  const sqsRequests = IDLE_POLLERS * (60 / LONG_POLL_SECONDS) * MINUTES_PER_MONTH;
  return { sqsRequests, usd: sqsRequests * table.prices.sqsRequest.usd };
}

export interface Workload {
  connections: number;
  rooms: number;
  messagesPerMinute: number;
  /** API Gateway closes every connection after 2 h, so each client reconnects 12 times a day. */
  connectsPerConnectionPerMonth: number;
}

export const APPSYNC_COMPARISON: Workload = { connections: 1000, rooms: 10, messagesPerMinute: 100, connectsPerConnectionPerMonth: 12 * 30 };

export interface MonthEstimate {
  workload: Workload;
  deliveries: number;
  publishes: number;
  connects: number;
  connectionMinutes: number;
  hermes: { own: number; apigwMessages: number; apigwMinutes: number; total: number; ownShareOfMessages: number };
  appsync: { operations: number; operationsUsd: number; minutesUsd: number; total: number };
}

/**
 * A month of `w` from measured unit costs: hermes's own dollars per delivered notification and
 * per connect (measured), API Gateway's prices for messages and minutes, and AppSync Events'
 * published prices for the same traffic: one operation per publish, per delivered message, per
 * connect and per subscribe (one subscription per connection), plus its connection minutes.
 */
export function monthOf(w: Workload, measured: { perDelivery: number; perConnect: number }, table: PriceTable): MonthEstimate {
  const p = table.prices;
  const perRoom = w.connections / w.rooms;
  const publishes = w.messagesPerMinute * MINUTES_PER_MONTH;
  const deliveries = publishes * perRoom;
  const connects = w.connections * w.connectsPerConnectionPerMonth;
  const connectionMinutes = w.connections * MINUTES_PER_MONTH;
  const own = deliveries * measured.perDelivery + connects * measured.perConnect + atRest(table).usd;
  const apigwMessages = deliveries * p.apigwMessage.usd;
  const apigwMinutes = connectionMinutes * p.apigwConnectionMinute.usd;
  const operations = publishes + deliveries + 2 * connects;
  return {
    workload: w,
    deliveries,
    publishes,
    connects,
    connectionMinutes,
    hermes: { own, apigwMessages, apigwMinutes, total: own + apigwMessages + apigwMinutes, ownShareOfMessages: apigwMessages ? own / apigwMessages : 0 },
    appsync: {
      operations,
      operationsUsd: operations * p.appsyncEventsOperation.usd,
      minutesUsd: connectionMinutes * p.appsyncEventsConnectionMinute.usd,
      total: operations * p.appsyncEventsOperation.usd + connectionMinutes * p.appsyncEventsConnectionMinute.usd,
    },
  };
}

/** What a bench run cost, from its metered windows. */
export interface RunCost {
  prices: { region: string; date: string; overridden: string[] };
  architecture: Architecture;
  /** The round of messages, per delivered notification (frame received). */
  notifications: UnitCost;
  /** The connects and the disconnects of the run's listeners (tokens issued in the window too), per connect. */
  connects: UnitCost;
  connectionMinutes: { minutes: number; usd: number };
  /** hermes's own share of a notification against API Gateway's message charge for it. */
  ownShareOfMessages: number;
  atRestMonth: { sqsRequests: number; usd: number };
}

export function runCost(
  windows: { connect: Usage; round: Usage; close: Usage },
  counts: { connects: number; delivered: number },
  table: PriceTable,
  arch: Architecture = 'arm64',
): RunCost {
  const round = priceUsage(windows.round, table, arch);
  const connecting = priceUsage(sumUsage(windows.connect, windows.close), table, arch);
  const minutes = windows.connect.apigw.connectionMinutes + windows.round.apigw.connectionMinutes + windows.close.apigw.connectionMinutes;
  return {
    prices: { region: table.region, date: table.date, overridden: table.overridden ?? [] },
    architecture: arch,
    notifications: perMillion(round, 'delivered notification', counts.delivered),
    connects: perMillion(connecting, 'connect', counts.connects),
    connectionMinutes: { minutes, usd: minutes * table.prices.apigwConnectionMinute.usd },
    ownShareOfMessages: round.apigwMessagesUsd ? round.hermesUsd / round.apigwMessagesUsd : 0,
    atRestMonth: atRest(table),
  };
}
