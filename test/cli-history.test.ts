/**
 * The verbs of history on the real local stack: `hermes publish --to-user`, `hermes history`
 * (a room's or a user's messages, --since a seq or a duration, --limit, --json) and
 * `hermes listen --since` (replays, then tails), and their bad input.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { randomUUID } from 'node:crypto';
import { startCliStack, type CliStack } from './helpers/cli.js';
import { eventually } from './helpers/ws.js';
import { readHead } from '../src/core/history.js';
import type { Frame } from '../client/hermes-client.js';

let s: CliStack;
beforeAll(async () => {
  s = await startCliStack();
});
afterAll(async () => {
  await s?.close();
});

const headOf = (kind: 'room' | 'user', id: string) =>
  readHead({ ddb: s.stack.ddb, table: s.stack.names.historyTable, retentionSeconds: 3600, maxPerStream: 0 }, { kind, id });

async function publishTo(room: string, n: number) {
  const lines = Array.from({ length: n }, (_, i) => JSON.stringify({ type: 'info', data: `m${i + 1}` })).join('\n');
  const r = await s.run(['publish', '--room', room, '-'], { stdin: `${lines}\n` });
  expect(r.code, r.stderr).toBe(0);
  await eventually(async () => (await headOf('room', room)) === n, 15_000, `${n} messages kept in ${room}`);
}

describe('hermes history', () => {
  it('prints a room’s messages oldest first with their seq; --since and --limit narrow it; --json is the frames', async () => {
    const room = `h-${randomUUID().slice(0, 8)}`;
    await publishTo(room, 5);
    const all = await s.run(['history', '--room', room]);
    expect(all.code, all.stderr).toBe(0);
    const lines = all.stdout.trim().split('\n');
    expect(lines).toHaveLength(5);
    expect(lines[0]).toMatch(/^#1 {2}\d\d:\d\d:\d\d {2}info {5}hermes-cli {2}m1$/);
    expect(lines[4]).toMatch(/^#5 .* m5$/);
    expect(all.stderr).toContain(`5 messages of room ${room}, seq 1-5 (last seq 5)`);

    const since = await s.run(['history', '--room', room, '--since', '3', '--json']);
    const body = JSON.parse(since.stdout) as { stream: string; head: number; messages: Frame[] };
    expect(body).toMatchObject({ stream: `room:${room}`, head: 5 });
    expect(body.messages.map((f) => [f.seq, (f.data as { data: string }).data])).toEqual([[4, 'm4'], [5, 'm5']]);

    const limited = JSON.parse((await s.run(['history', '--room', room, '--limit', '2', '--json'])).stdout) as { messages: Frame[] };
    expect(limited.messages.map((f) => f.seq)).toEqual([4, 5]);
    const recent = JSON.parse((await s.run(['history', '--room', room, '--since', '10m', '--json'])).stdout) as { messages: Frame[] };
    expect(recent.messages).toHaveLength(5);

    const empty = await s.run(['history', '--room', `none-${randomUUID().slice(0, 6)}`]);
    expect(empty.code).toBe(0);
    expect(empty.stdout).toMatch(/^No messages for room none-/);
  });

  it('publishes to one user with --to-user, and prints that user’s own history', async () => {
    const user = `u-${randomUUID().slice(0, 8)}`;
    const sent = await s.run(['publish', '--to-user', user, '--type', 'success', 'Your export is ready']);
    expect(sent.code, sent.stderr).toBe(0);
    expect(sent.stdout.trim()).toMatch(new RegExp(`^sent \\S+ {2}to user ${user}$`));
    await eventually(async () => (await headOf('user', user)) === 1, 15_000, 'the user message kept');
    const r = await s.run(['history', '--user', user, '--json']);
    const body = JSON.parse(r.stdout) as { messages: Frame[] };
    expect(body.messages).toEqual([expect.objectContaining({ room_id: null, to_user_id: user, seq: 1, data: { type: 'success', data: 'Your export is ready' } })]);
    const human = await s.run(['history', '--user', user]);
    expect(human.stdout).toMatch(/Your export is ready {2}\(to u-/);
  });

  it('refuses bad input with what to do, and no stack trace', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['history'], /Say whose history: --room or --user/],
      [['history', '--room', 'a', '--user', 'b'], /Give --room or --user, not both/],
      [['history', '--room', 'a', '--since', 'yesterday'], /Invalid --since value: "yesterday"\. Give a seq .* or a duration/],
      [['history', '--room', 'a', '--limit', '0'], /Invalid --limit value/],
      [['publish', '--room', 'a', '--to-user', 'b', 'hi'], /Give --room or --to-user, not both/],
      [['listen', '--room', 'a', '--since', '-3'], /Invalid --since value/],
    ];
    for (const [argv, message] of cases) {
      const r = await s.run(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/^\s+at /m);
    }
  });
});

describe('hermes listen --since', () => {
  it('replays the room after a seq, in order and marked, then tails live messages', async () => {
    const room = `l-${randomUUID().slice(0, 8)}`;
    await publishTo(room, 4);
    const run = s.start(['listen', '--room', room, '--since', '2', '--count', '3', '--json']);
    await run.waitFor('stdout', '"seq":4');
    const r = await s.run(['publish', '--room', room, 'live one']);
    expect(r.code).toBe(0);
    const { code, stdout } = await run.done;
    expect(code).toBe(0);
    const frames = stdout.trim().split('\n').map((l) => JSON.parse(l) as Frame);
    expect(frames.map((f) => [f.seq, f.replay ?? false])).toEqual([[3, true], [4, true], [5, false]]);
  });

  it('replays what was sent in the last duration, and says in words that it was replayed', async () => {
    const room = `d-${randomUUID().slice(0, 8)}`;
    await publishTo(room, 2);
    const { code, stdout } = await s.run(['listen', '--room', room, '--since', '1h', '--count', '2', '--timeout', '20s']);
    expect(code).toBe(0);
    expect(stdout.trim().split('\n')).toEqual([expect.stringMatching(/m1 {2}\(replayed\)$/), expect.stringMatching(/m2 {2}\(replayed\)$/)]);
  });
});
