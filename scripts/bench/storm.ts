/**
 * (7) A reconnect storm: N clients of the hermes client library (client/hermes-client.ts, on
 * `ws`), each with a token of its own at the default bcrypt cost, connect (the cold connect
 * rate: every connect runs bcrypt); then the gateway restarts, every socket gets 1001, and every
 * client reconnects with its backoff (the time until all are back: the authorizer has seen each
 * token). After the storm, one message per room must reach every client. What the connects and
 * the reconnects used is metered and priced per connect.
 */
import WebSocket from 'ws';
import { connect as connectClient, type HermesClient, type WebSocketConstructor } from '../../client/hermes-client.js';
import { issueToken } from '../../src/core/tokens.js';
import { publish } from '../../src/core/publish.js';
import { DEFAULT_BCRYPT_COST } from '../../src/core/defaults.js';
import { usageBetween, type Usage } from '../../src/local/usage.js';
import { perMillion, priceUsage, type UnitCost } from '../../src/bench/cost.js';
import { fmt, table, usd } from '../../src/bench/format.js';
import { nowMs, perSecond, round } from '../../src/bench/stats.js';
import type { BenchSession, StackInfo } from './session.js';

interface StormClient {
  client: HermesClient;
  room: string;
  opens: number;
  frames: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) return false;
    await sleep(20);
  }
  return true;
}

export async function storm(b: BenchSession): Promise<{ result: unknown; text: string }> {
  const n = b.opts.quick ? 100 : 1000;
  const rooms = 10;
  const { info, ddb } = await b.startStack();

  b.log(`storm: minting ${fmt(n)} tokens at bcrypt cost ${DEFAULT_BCRYPT_COST}, one per client…`);
  const minted = nowMs();
  const tokens: Array<{ token: string; room: string }> = [];
  for (let i = 0; i < n; i++) {
    const room = `storm-r${i % rooms}`;
    const t = await issueToken({ ddb, table: info.tokensTable, secret: info.jwtSecret, bcryptCost: DEFAULT_BCRYPT_COST }, { userId: `storm-${i}`, roomId: room, ttlSeconds: 2 * 3600 });
    tokens.push({ token: t.token, room });
  }
  b.log(`  minted in ${round((nowMs() - minted) / 1000, 1)} s`);

  // Cold connects: 50 handshakes in flight, as the fan-out bench connects its listeners.
  const clients: StormClient[] = [];
  const coldStarted = nowMs();
  let next = 0;
  const opener = async () => {
    while (next < n) {
      const { token, room } = tokens[next++];
      const c: StormClient = { client: connectClient({ url: info.endpoints.websocket, token, WebSocket: WebSocket as unknown as WebSocketConstructor }), room, opens: 0, frames: 0 };
      c.client.on('open', () => c.opens++);
      c.client.on('frame', () => c.frames++);
      clients.push(c);
      await c.client.opened();
    }
  };
  await Promise.all(Array.from({ length: 50 }, opener));
  const coldSeconds = (nowMs() - coldStarted) / 1000;
  const coldRate = perSecond(n, coldSeconds * 1000);
  b.log(`  ${fmt(n)} cold connects in ${round(coldSeconds, 1)} s: ${fmt(coldRate)}/s`);

  b.log('  restarting the gateway…');
  const restarted = nowMs();
  await b.child.call('restartGateway');
  const up = nowMs();
  const allBack = await until(() => clients.every((c) => c.opens >= 2), 120_000);
  const back = nowMs();
  const stormSeconds = (back - restarted) / 1000;
  const reconnected = clients.filter((c) => c.opens >= 2).length;
  const stormRate = perSecond(reconnected, back - restarted);
  b.log(`  ${fmt(reconnected)}/${fmt(n)} back ${round(stormSeconds, 2)} s after the restart began (gateway down for ${round((up - restarted) / 1000, 2)} s): ${fmt(stormRate)}/s`);

  // Every client must still get its room's messages: the reconnects wrote their rows.
  const framesBefore = clients.map((c) => c.frames);
  await publish({ sqs: b.sqs(), queueUrl: info.queueUrl }, Array.from({ length: rooms }, (_, r) => ({ room_id: `storm-r${r}`, data: { storm: true } })));
  await until(() => clients.every((c, i) => c.frames > framesBefore[i]), 30_000);
  const missed = clients.filter((c, i) => c.frames === framesBefore[i]).length;

  const beforeClose = await b.usage();
  for (const c of clients) c.client.close();
  const closeBy = Date.now() + 15_000;
  while (Date.now() < closeBy && (usageBetween(beforeClose, await b.usage()).lambda.disconnect?.invocations ?? 0) < reconnected) await sleep(100);

  // Priced one connect at a time: a Lambda container runs one invocation at a time, while this
  // stack runs overlapping invocations on one event loop, so the storm's windows would bill
  // each invocation for the others' CPU too.
  const k = b.opts.quick ? 5 : 20;
  const priced = await connectOneAtATime(b, info, k);
  await b.stopStack();

  const cold = priced.first;
  const warm = priced.again;
  b.costs.connect = cold;
  b.costs.reconnect = warm;
  const perInvocation = (u: Usage) => {
    const a = u.lambda.authorizer;
    return a?.invocations ? round(a.billedMs / a.invocations, 1) : 0;
  };
  const ratio = coldRate ? round(stormRate / coldRate, 1) : 0;
  const result = { clients: n, rooms, coldSeconds, coldRate, stormSeconds, stormRate, ratio, allBack, reconnected, missedAfterStorm: missed, cost: { connect: cold.perMillion, reconnect: warm.perMillion } };
  return {
    result,
    text: [
      `(7) reconnect storm: ${fmt(n)} clients (hermes client library), each with its own token (bcrypt cost ${DEFAULT_BCRYPT_COST}), in ${rooms} rooms; the gateway restarts`,
      table([
        ['', 'clients', 'seconds', 'per second'],
        ['cold connects (50 handshakes in flight; bcrypt on each)', fmt(n), round(coldSeconds, 2), fmt(coldRate)],
        ['reconnects after the restart, until all are back (client backoff included)', `${fmt(reconnected)} of ${fmt(n)}`, round(stormSeconds, 2), fmt(stormRate)],
      ]),
      `reconnects per second / cold connects per second: ${ratio}x (target: at least 3x); gateway down for ${round((up - restarted) / 1000, 2)} s`,
      `after the storm, one message per room: ${fmt(n - missed)} of ${fmt(n)} clients got it${missed ? ` (${missed} MISSED)` : ''}`,
      `priced from ${k} clients connecting one at a time, then reconnecting one at a time with the same token:`,
      table([
        ['per 1M', 'authorizer billed ms per invocation', 'hermes (Lambda, DynamoDB, SQS)', 'API Gateway messages'],
        ['first connects (token issued, bcrypt, $connect, later $disconnect)', perInvocation(priced.firstUsage), usd(cold.perMillion.hermes), usd(cold.perMillion.apigwMessages)],
        ['reconnects (the token known: no bcrypt; $connect, later $disconnect)', perInvocation(priced.againUsage), usd(warm.perMillion.hermes), usd(warm.perMillion.apigwMessages)],
      ]),
      '',
    ].join('\n'),
  };
}

/**
 * `k` clients with tokens of their own connect one after the other and close again, each
 * waiting for its $disconnect; then each connects again with the same token and closes.
 */
async function connectOneAtATime(b: BenchSession, info: StackInfo, k: number): Promise<{ first: UnitCost; again: UnitCost; firstUsage: Usage; againUsage: Usage }> {
  const ddb = b.ddb();
  const wave = async (tokens: string[]) => {
    for (const token of tokens) {
      const before = await b.usage();
      const c = connectClient({ url: info.endpoints.websocket, token, WebSocket: WebSocket as unknown as WebSocketConstructor });
      await c.opened();
      c.close();
      const end = Date.now() + 5000;
      while (Date.now() < end && !usageBetween(before, await b.usage()).lambda.disconnect?.invocations) await sleep(10);
    }
  };
  const u0 = await b.usage();
  const tokens: string[] = [];
  for (let i = 0; i < k; i++) {
    tokens.push((await issueToken({ ddb, table: info.tokensTable, secret: info.jwtSecret, bcryptCost: DEFAULT_BCRYPT_COST }, { userId: `priced-${i}`, roomId: 'priced' })).token);
  }
  await wave(tokens);
  const u1 = await b.usage();
  await wave(tokens);
  const u2 = await b.usage();
  const firstUsage = usageBetween(u0, u1);
  const againUsage = usageBetween(u1, u2);
  return {
    first: perMillion(priceUsage(firstUsage, b.opts.prices), 'connect', k),
    again: perMillion(priceUsage(againUsage, b.opts.prices), 'reconnect', k),
    firstUsage,
    againUsage,
  };
}
