/**
 * `hermes listen` against the real local stack: frames in human and NDJSON form, --count,
 * --timeout, --send, reconnecting after the gateway drops the socket, stopping for good when
 * the token is refused, and Ctrl-C. Plus the backoff of the reconnecting client.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startCliStack, cli, type CliStack, type RunningCli } from './helpers/cli.js';
import { connect, eventually, type TestClient } from './helpers/ws.js';
import { issueToken } from '../src/core/tokens.js';
import { publish } from '../src/core/publish.js';
import { listRoomConnectionIds } from '../src/core/connections.js';
import { backoffDelay, DEFAULT_BACKOFF, startListenClient } from '../src/cli/listen-client.js';
import { startTestStack } from './helpers/stack.js';

let s: CliStack;
const open: TestClient[] = [];

function send(room: string, data: unknown, user = 'backend') {
  return publish({ sqs: s.stack.sqs, queueUrl: s.stack.queues.queueUrl }, [{ room_id: room, user_id: user, data }]);
}

/** Start `hermes listen …` and wait until its connection is open. */
async function listening(argv: string[], opts: Parameters<CliStack['start']>[1] = {}): Promise<RunningCli> {
  const run = s.start(['listen', ...argv], opts);
  await run.waitFor('stderr', 'listening to room');
  return run;
}

async function connectionsOf(room: string): Promise<string[]> {
  return listRoomConnectionIds({ ddb: s.stack.ddb, table: s.stack.names.connectionsTable }, room);
}

beforeAll(async () => {
  s = await startCliStack();
});

afterAll(async () => {
  await Promise.all(open.map((c) => c.close()));
  await s?.close();
});

describe('hermes listen', () => {
  it('prints frames as readable lines and exits 0 after --count', async () => {
    const run = await listening(['--room', 'tail-1', '--count', '2']);
    await send('tail-1', { type: 'info', data: 'Backup job finished' });
    await send('tail-1', { custom: true }, 'billing');
    const { code, stdout, stderr } = await run.done;
    expect(code, stderr).toBe(0);
    // Two messages may be delivered by one batch in either order.
    const lines = stdout.trim().split('\n').sort((a, b) => a.slice(10).localeCompare(b.slice(10)));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d {2}info {5}backend {4}Backup job finished$/);
    expect(lines[1]).toMatch(/^\d\d:\d\d:\d\d {2}message {2}billing {4}\{"custom":true\}$/);
    expect(stderr).toMatch(/listening to room tail-1 as listener-[0-9a-f]{6} \(ws:\/\/127\.0\.0\.1:\d+\/local\)/);
  });

  it('prints one JSON frame per line with --json', async () => {
    const run = await listening(['--room', 'tail-2', '--count', '3', '--json', '--user', 'watcher']);
    for (const n of [1, 2, 3]) await send('tail-2', { type: 'info', data: `n${n}` });
    const { code, stdout } = await run.done;
    expect(code).toBe(0);
    const frames = stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(frames.map((f) => f.data.data).sort()).toEqual(['n1', 'n2', 'n3']);
    expect(frames[0]).toMatchObject({ room_id: 'tail-2', user_id: 'backend' });
    expect(typeof frames[0].id).toBe('string');
    expect(typeof frames[0].sent_at).toBe('string');
  });

  it('connects with a given --token, taking room and user from it', async () => {
    const issued = await s.run(['token', 'issue', '--user', 'ivy', '--room', 'tail-3']);
    const run = await listening(['--token', issued.stdout.trim(), '--count', '1', '--json']);
    expect(run.stderr()).toContain('listening to room tail-3 as ivy');
    await send('tail-3', 'hello ivy');
    const { code, stdout } = await run.done;
    expect(code).toBe(0);
    expect(JSON.parse(stdout).data).toBe('hello ivy');
  });

  it('reconnects after the gateway drops the connection, and keeps printing', async () => {
    const run = await listening(['--room', 'tail-4', '--user', 'steady', '--count', '2', '--json']);
    await send('tail-4', 'before');
    await run.waitFor('stdout', 'before');
    const [id] = await eventually(async () => {
      const ids = await connectionsOf('tail-4');
      return ids.length === 1 && ids;
    });
    expect(s.stack.gateway.dropConnection(id, { runDisconnect: true })).toBe(true);
    await run.waitFor('stderr', /connection lost \(1006\); reconnecting in \d+\.\d s…/);
    await run.waitFor('stderr', 'reconnected');
    // The new connection is registered once $connect has run; publish after that.
    await eventually(async () => {
      const ids = await connectionsOf('tail-4');
      return ids.length === 1 && ids[0] !== id;
    });
    await send('tail-4', 'after');
    const { code, stdout } = await run.done;
    expect(code).toBe(0);
    expect(stdout.trim().split('\n').map((l) => JSON.parse(l).data)).toEqual(['before', 'after']);
  });

  it('stops with exit 1 when its token is refused on reconnect (revoked)', async () => {
    const run = await listening(['--room', 'tail-5', '--user', 'doomed']);
    const revoke = await s.run(['token', 'revoke', '--user', 'doomed', '--all', '--yes']);
    expect(revoke.code, revoke.stderr).toBe(0);
    const [id] = await eventually(async () => {
      const ids = await connectionsOf('tail-5');
      return ids.length === 1 && ids;
    });
    s.stack.gateway.dropConnection(id, { runDisconnect: true });
    const { code, stderr } = await run.done;
    expect(code).toBe(1);
    expect(stderr).toContain('connection lost (1006)');
    expect(stderr).toMatch(/error: The server refused the token \(HTTP 40[13]\): Token .* of user doomed has been revoked or does not exist\./);
    expect(stderr).not.toMatch(/^\s+at /m);
  });

  it('exits 1 at once when a given token is refused from the start', async () => {
    const t = await issueToken(
      { ddb: s.stack.ddb, table: s.stack.names.tokensTable, secret: s.stack.jwtSecret, bcryptCost: 4, now: () => Date.now() - 3 * 3600_000 },
      { userId: 'late', roomId: 'tail-6', ttlSeconds: 60 },
    );
    const r = await s.run(['listen', '--token', t.token]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/refused the token \(HTTP 40[13]\): The token expired at/);
  });

  it('sends standard-input lines to the room with --send', async () => {
    const t = await issueToken(
      { ddb: s.stack.ddb, table: s.stack.names.tokensTable, secret: s.stack.jwtSecret, bcryptCost: 4 },
      { userId: 'peer', roomId: 'chat', ttlSeconds: 600 },
    );
    const peer = await connect(s.stack.endpoints.websocket, t.token);
    open.push(peer);
    const run = await listening(['--room', 'chat', '--user', 'talker', '--send', '--count', '2', '--json'], { stdin: 'pipe' });
    run.stdin.write('{"type":"info","data":"hi from stdin"}\n');
    run.stdin.write('just words\n');
    const { code, stdout } = await run.done;
    expect(code).toBe(0);
    const echoed = stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(echoed.map((f) => f.data)).toEqual([{ type: 'info', data: 'hi from stdin' }, 'just words']);
    expect(echoed.every((f) => f.user_id === 'talker' && f.room_id === 'chat')).toBe(true);
    const got = await peer.waitFor(2);
    expect(got).toEqual(echoed);
  });

  it('--timeout exits 0 without --count, and 1 when fewer than --count frames arrived', async () => {
    const quiet = await s.run(['listen', '--room', 'silent', '--timeout', '300ms']);
    expect(quiet.code, quiet.stderr).toBe(0);
    const short = await s.run(['listen', '--room', 'silent', '--timeout', '300ms', '--count', '2']);
    expect(short.code).toBe(1);
    expect(short.stderr).toContain('with 0 of 2 frames');
  });

  it('stops cleanly on Ctrl-C with exit 0', async () => {
    const run = await listening(['--room', 'tail-7']);
    run.interrupt();
    const { code, stderr } = await run.done;
    expect(code, stderr).toBe(0);
    await eventually(async () => (await connectionsOf('tail-7')).length === 0, 10_000, 'the connection to be removed');
  });

  it('rejects bad flags with exit 2 and says when no stack is running (exit 1)', async () => {
    expect((await s.run(['listen', '--room', 'x', '--count', '0'])).code).toBe(2);
    expect((await s.run(['listen', '--room', 'x', '--timeout', 'forever'])).code).toBe(2);
    const noRoom = await s.run(['listen']);
    expect(noRoom.code).toBe(2);
    expect(noRoom.stderr).toContain('--room');
    const badToken = await s.run(['listen', '--token', 'nope']);
    expect(badToken.code).toBe(2);
    const empty = mkdtempSync(path.join(tmpdir(), 'hermes-empty-'));
    try {
      const r = await cli(['--state-dir', empty, 'listen', '--room', 'x']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('No local stack is running');
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('listen client backoff', () => {
  it('grows exponentially from the base, with jitter, up to the cap', () => {
    const at = (attempt: number, r: number) => backoffDelay(attempt, { ...DEFAULT_BACKOFF, random: () => r });
    expect([at(0, 0), at(0, 1)]).toEqual([500, 1000]);
    expect([at(1, 0), at(1, 1)]).toEqual([1000, 2000]);
    expect([at(3, 0), at(3, 1)]).toEqual([4000, 8000]);
    expect([at(10, 0), at(10, 1)]).toEqual([15_000, 30_000]);
    expect(at(1000, 0.5)).toBe(22_500);
  });
});

describe('listen client keepalive', () => {
  it('keeps a quiet connection open through the gateway idle timeout, where a silent one is closed', async () => {
    const quiet = await startTestStack({ idleTimeoutMs: 1500 });
    const stops: Array<() => void> = [];
    try {
      const url = async (user: string) =>
        `${quiet.endpoints.websocket}?token=${(await issueToken({ ddb: quiet.ddb, table: quiet.names.tokensTable, secret: quiet.jwtSecret, bcryptCost: 4 }, { userId: user, roomId: 'quiet', ttlSeconds: 600 })).token}`;
      const events: Record<string, string[]> = { kept: [], silent: [] };
      for (const [name, keepAliveMs] of [['kept', 400], ['silent', 0]] as const) {
        const c = startListenClient({ url: await url(name), keepAliveMs, onMessage: () => {}, onEvent: (e) => events[name].push(e.kind === 'lost' ? `lost ${e.code}` : e.kind), backoff: { baseMs: 60_000, maxMs: 60_000 } });
        stops.push(c.stop);
      }
      const deadline = Date.now() + 20_000;
      while (!events.silent.some((e) => e.startsWith('lost')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(events.silent).toContain('lost 1001');
      expect(events.kept).toEqual(['open']);
    } finally {
      stops.forEach((s) => s());
      await quiet.close();
    }
  });
});
