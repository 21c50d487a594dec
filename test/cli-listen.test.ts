/**
 * `hermes listen` against the real local stack: frames in human and NDJSON form, --count,
 * --timeout, --send, reconnecting after the gateway drops the socket, stopping for good when
 * the token is refused, failing fast when nothing answers, and Ctrl-C. Plus what its connection
 * adds to the client library (whose reconnects, backoff and keepalive test/client.test.ts tests).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startCliStack, cli, type CliStack, type RunningCli } from './helpers/cli.js';
import { connect, eventually, type TestClient } from './helpers/ws.js';
import { issueToken } from '../src/core/tokens.js';
import { publish } from '../src/core/publish.js';
import { listRoomConnectionIds } from '../src/core/connections.js';
import { openListenConnection, type ListenEvent } from '../src/cli/listen-connection.js';
import type { Frame } from '../client/hermes-client.js';

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

async function tokenFor(user: string, room: string): Promise<string> {
  const issued = await issueToken({ ddb: s.stack.ddb, table: s.stack.names.tokensTable, signingKey: await s.stack.signingKeys.current(), bcryptCost: 4 }, { userId: user, roomId: room, ttlSeconds: 600 });
  return issued.token;
}

/** The id of the room's one connection, once $connect has registered it. */
async function onlyConnectionOf(room: string): Promise<string> {
  return eventually(async () => {
    const ids = await connectionsOf(room);
    return ids.length === 1 && ids[0];
  }, 10_000, `one connection in ${room}`);
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
    const id = await onlyConnectionOf('tail-4');
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

  it('stops with exit 1 when its token is revoked: the revocation closes it, and the reconnect is refused', async () => {
    const run = await listening(['--room', 'tail-5', '--user', 'doomed']);
    await onlyConnectionOf('tail-5');
    const revoke = await s.run(['token', 'revoke', '--user', 'doomed', '--all', '--yes']);
    expect(revoke.code, revoke.stderr).toBe(0);
    expect(revoke.stdout).toContain('closed 1 connection opened with it');
    const { code, stderr } = await run.done;
    expect(code).toBe(1);
    expect(stderr).toContain('connection lost (1000)');
    expect(stderr).toMatch(/error: The server refused the token \(HTTP 40[13]\): Token .* of user doomed has been revoked or does not exist\./);
    expect(stderr).not.toMatch(/^\s+at /m);
  });

  it('tells a restart of an in-memory stack from a revocation', async () => {
    const { startTestStack } = await import('./helpers/stack.js');
    const { writeStageRecord } = await import('../src/config/stage-record.js');
    const { localStageRecord } = await import('../src/local/state.js');
    const stateDir = mkdtempSync(path.join(tmpdir(), 'hermes-restart-'));
    const first = await startTestStack();
    let second: Awaited<ReturnType<typeof startTestStack>> | undefined;
    try {
      writeStageRecord(stateDir, localStageRecord(first, { ephemeral: true }));
      const run = (await import('./helpers/cli.js')).startCli(['--state-dir', stateDir, 'listen', '--room', 'restart-room'], { env: s.env });
      await run.waitFor('stderr', 'listening to room');
      const port = first.gateway.port;
      await first.close();
      // `hermes dev --ephemeral` again on the same port: a new key, empty tables.
      second = await startTestStack({ ports: { gateway: port, dynamodb: 0, sqs: 0 } });
      writeStageRecord(stateDir, localStageRecord(second, { ephemeral: true }));
      const { code, stderr } = await run.done;
      expect(code).toBe(1);
      expect(stderr).toContain('the local stack restarted');
      expect(stderr).toContain('it was not revoked');
      expect(stderr).not.toContain('has been revoked');
    } finally {
      await second?.close();
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it('asks a persisted stack that restarted with other keys why it refuses the token', async () => {
    const { startTestStack } = await import('./helpers/stack.js');
    const { writeStageRecord } = await import('../src/config/stage-record.js');
    const { localStageRecord } = await import('../src/local/state.js');
    const stateDir = mkdtempSync(path.join(tmpdir(), 'hermes-restart-'));
    const dataDir = path.join(stateDir, 'data');
    const first = await startTestStack({ dataDir, parameterFile: path.join(stateDir, 'first-keys.json') });
    let second: Awaited<ReturnType<typeof startTestStack>> | undefined;
    try {
      writeStageRecord(stateDir, localStageRecord(first));
      const run = (await import('./helpers/cli.js')).startCli(['--state-dir', stateDir, 'listen', '--room', 'restart-room'], { env: s.env });
      await run.waitFor('stderr', 'listening to room');
      const port = first.gateway.port;
      await first.close();
      // The same tables, read at the new stack's addresses, but a key ring of its own.
      second = await startTestStack({ ports: { gateway: port, dynamodb: 0, sqs: 0 }, dataDir, parameterFile: path.join(stateDir, 'second-keys.json') });
      writeStageRecord(stateDir, localStageRecord(second));
      const { code, stderr } = await run.done;
      expect(code).toBe(1);
      expect(stderr).toContain('the local stack restarted');
      expect(stderr).toMatch(/and it refuses the token: .*key/);
      expect(stderr).not.toContain('it was not revoked');
    } finally {
      await second?.close();
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it('exits 1 at once when a given token is refused from the start', async () => {
    const t = await issueToken(
      { ddb: s.stack.ddb, table: s.stack.names.tokensTable, signingKey: await s.stack.signingKeys.current(), bcryptCost: 4, now: () => Date.now() - 3 * 3600_000 },
      { userId: 'late', roomId: 'tail-6', ttlSeconds: 60 },
    );
    const r = await s.run(['listen', '--token', t.token]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/refused the token \(HTTP 40[13]\): The token expired at/);
  });

  it('sends standard-input lines to the room with --send', async () => {
    const peer = await connect(s.stack.endpoints.websocket, await tokenFor('peer', 'chat'));
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

  it('exits 1 at once, naming the address, when nothing answers there', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const issued = await s.run(['token', 'issue', '--user', 'ivy', '--room', 'nowhere']);
    const url = `ws://127.0.0.1:${port}/local`;
    const r = await s.run(['listen', '--token', issued.stdout.trim()], { env: { ...s.env, HERMES_WEBSOCKET_URL: url } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: Cannot connect to ${url}: connect ECONNREFUSED 127.0.0.1:${port}`);
    expect(r.stderr).not.toMatch(/retrying|^\s+at /m);
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

describe('listen connection', () => {
  it('holds what is sent while reconnecting and sends it once the connection is back', async () => {
    const frames: Frame[] = [];
    const events: ListenEvent['kind'][] = [];
    const stopper = new AbortController();
    let connection: ReturnType<typeof openListenConnection> | undefined;
    connection = openListenConnection({
      url: s.stack.endpoints.websocket,
      token: await tokenFor('patient', 'held'),
      signal: stopper.signal,
      client: { backoff: { initialMs: 400, maxMs: 400 } },
      onFrame: (f) => frames.push(f),
      onEvent(e) {
        events.push(e.kind);
        // The socket is gone and the next attempt not made yet: these can only be held.
        if (e.kind === 'lost') for (const n of [1, 2, 3]) connection!.send(`held ${n}`);
      },
    });
    try {
      await eventually(() => events.includes('open'), 15_000, 'the connection');
      const id = await onlyConnectionOf('held');
      s.stack.gateway.dropConnection(id, { runDisconnect: true });
      // The sender is a member of its room: what it held comes back to it as frames.
      await eventually(() => frames.length === 3, 20_000, 'the held messages as frames');
      expect(events.slice(0, 3)).toEqual(['open', 'lost', 'open']);
      expect(frames.map((f) => f.data).sort()).toEqual(['held 1', 'held 2', 'held 3']);
      expect(frames.every((f) => f.user_id === 'patient' && f.room_id === 'held')).toBe(true);
    } finally {
      stopper.abort();
    }
    expect(await connection.done).toEqual({ kind: 'stopped' });
  });
});
