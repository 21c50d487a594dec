/**
 * The operator verbs against the real local stack, run in-process: `connections list`,
 * `prune-stale`, `disconnect`, `status`, and what each says when no stack is running.
 * (`dlq` has its own file: cli-ops-dlq.test.ts.)
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { startTestStack } from './helpers/stack.js';
import { cli, type CliResult } from './helpers/cli.js';
import { connect, eventually, type TestClient } from './helpers/ws.js';
import type { LocalStack } from '../src/local/stack.js';
import { writeStageRecord } from '../src/config/stage-record.js';
import { localStageRecord } from '../src/local/state.js';
import { issueToken } from '../src/core/tokens.js';
import { connectionRow, getConnection, listConnections, putConnection } from '../src/core/connections.js';

let stack: LocalStack;
let stateDir: string;
const open: TestClient[] = [];

const run = (...argv: string[]): Promise<CliResult> => cli(['--state-dir', stateDir, ...argv]);
const json = async (...argv: string[]) => {
  const r = await run('--json', ...argv);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
};
const store = () => ({ ddb: stack.ddb, table: stack.names.connectionsTable });

async function join(user: string, room: string): Promise<TestClient & { id: string }> {
  const t = await issueToken(
    { ddb: stack.ddb, table: stack.names.tokensTable, signingKey: await stack.signingKeys.current(), bcryptCost: 4 },
    { userId: user, roomId: room, ttlSeconds: 600 },
  );
  const before = new Set((await listConnections(store(), { roomId: room })).map((r) => r.connection_id));
  const c = await connect(stack.endpoints.websocket, t.token);
  open.push(c);
  // The row is written by $connect, before the socket opens; this finds its id.
  const id = await eventually(async () => {
    const rows = await listConnections(store(), { roomId: room });
    return rows.find((r) => r.user_id === user && !before.has(r.connection_id))?.connection_id;
  }, 10_000, `the row of ${user} in ${room}`);
  return Object.assign(c, { id });
}

function oneErrorLine(stderr: string): string {
  const errors = stderr.split('\n').filter((l) => l.startsWith('error:'));
  expect(errors, stderr).toHaveLength(1);
  expect(stderr).not.toMatch(/^\s+at /m);
  return errors[0];
}

beforeAll(async () => {
  stack = await startTestStack();
  stateDir = mkdtempSync(path.join(tmpdir(), 'hermes-ops-'));
  writeStageRecord(stateDir, localStageRecord(stack));
});

afterAll(async () => {
  await Promise.all(open.map((c) => c.close()));
  await stack?.close();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

describe('hermes connections list', () => {
  it('lists connections with room, user and last activity, filtered by room or user, with counts per room', async () => {
    const a1 = await join('alice', 'list-a');
    const b1 = await join('bob', 'list-a');
    const a2 = await join('alice', 'list-b');

    const all = await json('connections', 'list');
    const mine = all.connections.filter((c: { roomId: string }) => c.roomId.startsWith('list-'));
    expect(mine.map((c: { connectionId: string }) => c.connectionId).sort()).toEqual([a1.id, b1.id, a2.id].sort());
    expect(all.rooms).toMatchObject({ 'list-a': 2, 'list-b': 1 });
    expect(all.total).toBe(all.connections.length);
    for (const c of mine) {
      expect(c.state).toBe('live');
      expect(Date.parse(c.lastActiveAt)).not.toBeNaN();
      expect(Date.parse(c.connectedAt)).not.toBeNaN();
      expect(c.ageSeconds).toBeGreaterThanOrEqual(0);
    }

    const room = await json('connections', 'list', '--room', 'list-a');
    expect(room.total).toBe(2);
    expect(room.rooms).toEqual({ 'list-a': 2 });
    expect(room.connections.map((c: { userId: string }) => c.userId).sort()).toEqual(['alice', 'bob']);

    const user = await json('connections', 'list', '--user', 'alice');
    expect(user.rooms).toEqual({ 'list-a': 1, 'list-b': 1 });

    const both = await json('connections', 'list', '--room', 'list-a', '--user', 'alice');
    expect(both.connections.map((c: { connectionId: string }) => c.connectionId)).toEqual([a1.id]);

    const unprobed = await json('connections', 'list', '--room', 'list-b', '--no-probe');
    expect(unprobed.connections[0]).toMatchObject({ connectionId: a2.id, state: 'unprobed' });
    expect(unprobed.connections[0].lastActiveAt).toBeUndefined();

    const human = await run('connections', 'list', '--room', 'list-a');
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/CONNECTION\s+ROOM\s+USER\s+AGE\s+LAST ACTIVE/);
    expect(human.stdout).toContain(a1.id);
    expect(human.stdout).toMatch(/2 connections in 1 room: list-a 2/);
    expect(human.stdout).toMatch(/ ago/);

    const none = await run('connections', 'list', '--room', 'nobody-here');
    expect(none.stdout.trim()).toBe('No connections for room "nobody-here".');
    const empty = await run('connections', 'list', '--room', '');
    expect(empty.code).toBe(2);
    expect(oneErrorLine(empty.stderr)).toContain('--room');
  });
});

describe('hermes prune-stale', () => {
  it('removes rows of vanished clients and rows past 2 h, keeps live ones, and --dry-run deletes nothing', async () => {
    const live = await join('kim', 'prune-room');
    const dropped = await join('leo', 'prune-room');
    expect(stack.gateway.dropConnection(dropped.id)).toBe(true); // the client vanished: no $disconnect
    await dropped.closed;
    expect(await getConnection(store(), dropped.id)).toBeDefined();
    // Rows API Gateway would have closed long ago: by connected_at, and by a TTL the sweeper has not reached.
    await putConnection(store(), connectionRow({ connectionId: 'old-conn=', roomId: 'prune-room', userId: 'olga', connectedAt: Date.now() - 3 * 3600_000 }));
    await putConnection(store(), { ...connectionRow({ connectionId: 'ttl-conn=', roomId: 'prune-room', userId: 'tim', connectedAt: Date.now() - 600_000 }), expires_at: Math.floor(Date.now() / 1000) - 5 });

    const dry = await json('prune-stale', '--dry-run', '--min-age', '0');
    expect(dry.dryRun).toBe(true);
    const dryIds = Object.fromEntries(dry.removed.map((r: { connectionId: string; reason: string }) => [r.connectionId, r.reason]));
    expect(dryIds).toMatchObject({ [dropped.id]: 'gone', 'old-conn=': 'expired', 'ttl-conn=': 'expired' });
    expect(dryIds[live.id]).toBeUndefined();
    for (const id of [dropped.id, 'old-conn=', 'ttl-conn=']) expect(await getConnection(store(), id)).toBeDefined();

    // By default a young row is left alone even though it answers 410: its $connect may be running.
    const careful = await json('prune-stale');
    const carefulIds = careful.removed.map((r: { connectionId: string }) => r.connectionId);
    expect(carefulIds).toEqual(expect.arrayContaining(['old-conn=', 'ttl-conn=']));
    expect(carefulIds).not.toContain(dropped.id);
    expect(careful.skippedYoung).toBeGreaterThanOrEqual(2);
    expect(await getConnection(store(), 'old-conn=')).toBeUndefined();
    expect(await getConnection(store(), 'ttl-conn=')).toBeUndefined();
    expect(await getConnection(store(), dropped.id)).toBeDefined();

    const human = await run('prune-stale', '--min-age', '0');
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/Removed 1 stale connection/);
    expect(human.stdout).toMatch(new RegExp(`${dropped.id.replace(/[=+/]/g, '\\$&')}\\s+prune-room\\s+leo\\s+410 GoneException`));
    expect(await getConnection(store(), dropped.id)).toBeUndefined();
    expect(await getConnection(store(), live.id)).toBeDefined();
    expect(live.ws.readyState).toBe(live.ws.OPEN);

    const again = await run('prune-stale', '--min-age', '0');
    expect(again.stdout).toMatch(/^No stale connections \(scanned \d+, \d+ live\)\.$/m);
  });

  it('rejects a malformed --min-age naming the flag', async () => {
    const r = await run('prune-stale', '--min-age', 'soon');
    expect(r.code).toBe(2);
    expect(oneErrorLine(r.stderr)).toMatch(/Invalid --min-age value: "soon"/);
  });
});

describe('hermes disconnect', () => {
  it('closes one connection by id (the client sees 1000) and deletes its row; an unknown id is already gone', async () => {
    const c = await join('dan', 'dc-one');
    const r = await json('disconnect', '--connection', c.id);
    expect(r).toMatchObject({ matched: 1, closed: [c.id], alreadyGone: [], failed: [] });
    expect((await c.closed).code).toBe(1000);
    await eventually(async () => (await getConnection(store(), c.id)) === undefined, 10_000, 'row deleted');

    const gone = await run('disconnect', '--connection', 'no-such-connection=');
    expect(gone.code).toBe(0);
    expect(gone.stdout).toMatch(/already gone \(410\)/);
  });

  it('closes every connection of a user, only with --yes when no one is at the keyboard', async () => {
    const e1 = await join('eve', 'dc-a');
    const e2 = await join('eve', 'dc-b');
    const f1 = await join('fay', 'dc-a');

    const refused = await run('disconnect', '--user', 'eve');
    expect(refused.code).toBe(2);
    expect(oneErrorLine(refused.stderr)).toMatch(/Refusing to close 2 connections of user "eve"/);
    expect(refused.stderr).toMatch(/--yes/);
    expect(e1.ws.readyState).toBe(e1.ws.OPEN);

    const r = await run('disconnect', '--user', 'eve', '--yes');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('Closed 2 connections of user "eve".');
    expect((await e1.closed).code).toBe(1000);
    expect((await e2.closed).code).toBe(1000);
    expect(f1.ws.readyState).toBe(f1.ws.OPEN);

    const room = await json('disconnect', '--room', 'dc-a', '--yes');
    expect(room).toMatchObject({ selector: { room: 'dc-a' }, matched: 1, closed: [f1.id] });
    expect((await f1.closed).code).toBe(1000);

    const nobody = await run('disconnect', '--room', 'dc-a');
    expect(nobody.code).toBe(0); // nothing to close, so nothing to confirm
    expect(nobody.stdout).toMatch(/No connections for room "dc-a"/);
  });

  it('wants exactly one of --connection, --user, --room', async () => {
    const none = await run('disconnect');
    expect(none.code).toBe(2);
    expect(oneErrorLine(none.stderr)).toMatch(/--connection <id>, --user <user> or --room <room>/);
    const two = await run('disconnect', '--user', 'a', '--room', 'b', '--yes');
    expect(two.code).toBe(2);
    expect(oneErrorLine(two.stderr)).toMatch(/only one of .*\(got --user and --room\)/);
  });
});

describe('hermes status', () => {
  it('shows stage, endpoints, queue depths, connections per room and live tokens', async () => {
    await join('sam', 'status-room');
    await join('sue', 'status-room');
    const s = await json('status');
    expect(s).toMatchObject({
      stage: 'local',
      region: stack.region,
      running: true,
      pid: process.pid,
      endpoints: { websocket: stack.endpoints.websocket, management: stack.endpoints.management, dynamodb: stack.endpoints.dynamodb, sqs: stack.endpoints.sqs },
      queue: { url: stack.queues.queueUrl, name: stack.names.queue },
      deadLetters: { url: stack.queues.dlqUrl, name: stack.names.dlq, visible: 0, inFlight: 0 },
    });
    expect(typeof s.queue.visible).toBe('number');
    expect(s.connections.topRooms['status-room']).toBe(2);
    expect(s.connections.total).toBeGreaterThanOrEqual(2);
    expect(s.tokens.live).toBeGreaterThanOrEqual(2);

    const human = await run('status');
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/stage local in us-east-1: running/);
    for (const label of ['WebSocket', '@connections', 'DynamoDB', 'SQS', 'Queue', 'Dead letters', 'Connections', 'Live tokens']) {
      expect(human.stdout).toMatch(new RegExp(`^  ${label}\\s`, 'm'));
    }
    expect(human.stdout).toContain(stack.endpoints.websocket);
    expect(human.stdout).toMatch(/status-room 2/);
  });
});

describe('with no stack running', () => {
  it('every verb says so in one line and exits 1', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'hermes-ops-empty-'));
    try {
      for (const argv of [
        ['connections', 'list'],
        ['prune-stale'],
        ['disconnect', '--user', 'x', '--yes'],
        ['dlq', 'list'],
        ['dlq', 'redrive'],
        ['dlq', 'purge', '--yes'],
        // The signing keys and the WebSocket URL are recorded like the rest: the same error.
        ['secret', 'rotate'],
        ['secret', 'show'],
        ['listen', '--room', 'x'],
      ]) {
        const r = await cli(['--state-dir', empty, '--json', ...argv]);
        expect(r.code, argv.join(' ')).toBe(1);
        expect(JSON.parse(r.stdout), argv.join(' ')).toEqual({
          error: { code: 'stack_not_running', message: expect.stringMatching(/^No local stack is running/), hint: expect.stringMatching(/hermes dev/) },
        });
        expect(oneErrorLine(r.stderr)).toMatch(/No local stack is running/);
        expect(r.stderr).toMatch(/hermes dev/);
      }
      const s = await cli(['--state-dir', empty, 'status']);
      expect(s.code).toBe(1);
      expect(s.stdout).toBe('');
      expect(oneErrorLine(s.stderr)).toMatch(/No local stack is running/);
      expect(s.stderr).toMatch(/Start it with `npx hermes dev`/); // no hermes on the (empty) PATH
      const sj = await cli(['--state-dir', empty, '--json', 'status']);
      expect(sj.code).toBe(1);
      expect(JSON.parse(sj.stdout)).toMatchObject({ error: { code: 'stack_not_running', message: expect.stringMatching(/No local stack is running/) } });
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('status notices a stack whose process has exited', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hermes-ops-dead-'));
    try {
      const dead = spawnSync(process.execPath, ['-e', '']).pid!;
      writeStageRecord(dir, { stage: 'local', endpoints: stack.endpoints, queueUrl: stack.queues.queueUrl, dlqUrl: stack.queues.dlqUrl, pid: dead });
      const s = await cli(['--state-dir', dir, 'status']);
      expect(s.code).toBe(1);
      expect(s.stderr).toMatch(new RegExp(`not running \\(its process ${dead} has exited\\)`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
