/**
 * (8) What a notification costs, measured: rooms of 100 listeners, messages at a steady rate
 * (one at a time, as 100 messages a minute arrive), the stack's usage metered over the round
 * and priced (src/bench/cost.ts). Then a month of the AppSync Events comparison workload
 * (1,000 connections in 10 rooms, 100 messages a minute) from these unit costs, next to AppSync
 * Events' published prices for the same traffic. The connects are priced from the storm
 * scenario when it ran in this run (tokens of their own at the default bcrypt cost), else from
 * this scenario's listeners (bench tokens, bcrypt cost 4: cheaper than a real connect).
 */
import { APPSYNC_COMPARISON, atRest, monthOf, perMillion, priceUsage, type UnitCost } from '../../src/bench/cost.js';
import { fmt, table, usd } from '../../src/bench/format.js';
import { round } from '../../src/bench/stats.js';
import { usageBetween, sumUsage } from '../../src/local/usage.js';
import type { BenchSession } from './session.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function cost(b: BenchSession): Promise<{ result: unknown; text: string }> {
  const s = b.opts.quick ? { rooms: 2, listeners: 200, messages: 40, rate: 10 } : { rooms: 10, listeners: 1000, messages: 300, rate: 10 };
  const prices = b.opts.prices;
  const { target } = await b.startStack();
  const beforeConnect = await b.usage();
  const { group } = await b.connect('cost', s.rooms, s.listeners, (r) => target.listenerUrl(r));
  const connected = await b.usage();
  await b.measure('warm-up', group, target.publish, { messages: s.rooms, quietMs: 3000 });
  const before = await b.usage();
  const m = await b.measure('hermes end to end', group, target.publish, { messages: s.messages, rate: s.rate });
  await sleep(1000); // the event source deletes each batch after its invocation returns
  const after = await b.usage();
  await group.close();
  await sleep(2000); // $disconnect runs after each socket closed
  const closed = await b.usage();
  await b.stopStack();

  const round_ = usageBetween(before, after);
  const notifications = perMillion(priceUsage(round_, prices), 'delivered notification', m.report.frames.received);
  const ownConnects: UnitCost = perMillion(priceUsage(sumUsage(usageBetween(beforeConnect, connected), usageBetween(after, closed)), prices), 'connect', s.listeners);
  const connects = b.costs.connect ?? ownConnects;
  const perDelivery = notifications.priced.hermesUsd / Math.max(1, notifications.count);
  const perConnect = connects.priced.hermesUsd / Math.max(1, connects.count);
  const month = monthOf(APPSYNC_COMPARISON, { perDelivery, perConnect }, prices);
  const rest = atRest(prices);
  const batches = round_.lambda['send-message']?.invocations ?? 0;
  const result = { settings: s, notifications: notifications.perMillion, connects: connects.perMillion, connectsFrom: b.costs.connect ? 'storm' : 'cost', month, atRest: rest, usage: round_, batches };

  const w = month.workload;
  const pct = (x: number) => `${round(100 * x, 1)}%`;
  const text = [
    `(8) cost: ${fmt(s.listeners)} listeners in ${s.rooms} rooms (${fmt(s.listeners / s.rooms)} per room), ${fmt(s.messages)} messages at ${s.rate}/s; priced for ${prices.region} on-demand, arm64, prices of ${prices.date}`,
    table([
      ['what the round used', 'quantity', 'per 1M notifications'],
      ...notifications.priced.lines.map((l) => [l.item, `${fmt(round(l.quantity, 2))} ${l.unit}`, usd((l.usd * 1e6) / Math.max(1, notifications.count))]),
    ]),
    `${fmt(m.report.frames.received)} notifications delivered by ${fmt(batches)} send-message invocations; ${fmt(m.report.frames.lost)} lost, ${fmt(m.report.frames.duplicated)} duplicated`,
    table([
      ['per 1M', 'hermes (Lambda, DynamoDB, SQS)', 'API Gateway messages', 'hermes / API Gateway messages'],
      ['delivered notifications', usd(notifications.perMillion.hermes), usd(notifications.perMillion.apigwMessages), pct(notifications.perMillion.hermes / notifications.perMillion.apigwMessages)],
      [`connects (${b.costs.connect ? 'storm scenario: own tokens, bcrypt cost 10' : 'this scenario: bench tokens, bcrypt cost 4'})`, usd(connects.perMillion.hermes), usd(connects.perMillion.apigwMessages), ''],
    ]),
    `target: hermes's own share at most 25% of the API Gateway message charge at ${fmt(s.listeners / s.rooms)} connections per room: ${pct(notifications.perMillion.hermes / notifications.perMillion.apigwMessages)} (${notifications.perMillion.hermes / notifications.perMillion.apigwMessages <= 0.25 ? 'met' : 'NOT met'})`,
    `a stage at rest for a month: ${usd(rest.usd)} (${fmt(rest.sqsRequests)} long polls of the event source, assumed: nothing is measured at rest)`,
    '',
    `a month of ${fmt(w.connections)} connections in ${w.rooms} rooms, ${w.messagesPerMinute} messages a minute (${fmt(month.publishes)} messages, ${fmt(month.deliveries)} notifications, ${fmt(month.connects)} connects: one every 2 h per client):`,
    table([
      ['', 'hermes on API Gateway', 'AppSync Events'],
      ['messages / operations', usd(month.hermes.apigwMessages), `${usd(month.appsync.operationsUsd)} (${fmt(month.appsync.operations)} operations)`],
      ['connection minutes', usd(month.hermes.apigwMinutes), usd(month.appsync.minutesUsd)],
      ['Lambda, DynamoDB, SQS (measured above)', usd(month.hermes.own), '-'],
      ['total', usd(month.hermes.total), usd(month.appsync.total)],
    ]),
    '',
  ].join('\n');
  return { result, text };
}
