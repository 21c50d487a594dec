/**
 * Sequence numbers and the history table (src/core/sequencer.ts, src/core/history.ts) against a
 * real local DynamoDB: numbers 1, 2, 3… without gaps, assigned once per frame id even when two
 * "instances" (two sequencers on the same table) number the same frames at the same moment,
 * crash-safe, never going back after TTL deletes items, the cap trimmed and reported as lost.
 */
import { describe, it, expect } from 'vitest';
import { DeleteCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { useLocalDynamo } from './helpers/dynamo.js';
import { resourceNames } from '../src/stack/names.js';
import { buildFrame } from '../src/core/envelope.js';
import { createSequencer, withSeq } from '../src/core/sequencer.js';
import { replay } from '../src/core/replay.js';
import type { PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { HEAD_SEQ, putMessage, readAfter, readHead, readRecent, streamKey, type HistoryDeps, type StreamRef } from '../src/core/history.js';

const names = resourceNames('hist');
const db = useLocalDynamo(names);
const history = (o: Partial<HistoryDeps> = {}): HistoryDeps => ({ ddb: db.ddb, table: names.historyTable, retentionSeconds: 3600, maxPerStream: 0, ...o });
const frame = (id: string, room = 'r') => buildFrame({ id, room_id: room, user_id: 'u', data: { n: id } });

/** Every item of a stream but the high-water mark, oldest first. */
async function items(stream: StreamRef) {
  const res = await db.ddb.send(
    new QueryCommand({ TableName: names.historyTable, KeyConditionExpression: 'stream_id = :s AND seq < :h', ExpressionAttributeValues: { ':s': streamKey(stream), ':h': HEAD_SEQ }, ConsistentRead: true }),
  );
  return (res.Items ?? []).map((i) => ({ seq: i.seq as number, id: i.frame_id as string }));
}

describe('sequence numbers', () => {
  it('numbers a stream 1, 2, 3… and stores each frame with its seq, exactly as posted', async () => {
    const stream: StreamRef = { kind: 'room', id: 'plain' };
    const seq = createSequencer(history());
    const out = [];
    for (let i = 0; i < 5; i++) out.push(await seq.assign(stream, frame(`p${i}`, 'plain')));
    expect(out.map((s) => s.frame.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(out.every((s) => s.fresh)).toBe(true);
    expect(JSON.parse(out[2].payload)).toEqual({ ...frame('p2', 'plain'), sent_at: out[2].frame.sent_at, seq: 3 });
    expect(await readHead(history(), stream)).toBe(5);
    // Another stream has its own numbers.
    expect((await seq.assign({ kind: 'user', id: 'plain' }, frame('q0'))).frame.seq).toBe(1);
  });

  it('gives two instances racing on the same frames one number per frame id, and no gaps', async () => {
    const stream: StreamRef = { kind: 'room', id: 'race' };
    const a = createSequencer(history(), { batchSize: 7 });
    const b = createSequencer(history(), { batchSize: 5 });
    const shared = Array.from({ length: 20 }, (_, i) => frame(`d${i}`, 'race'));
    const own = (p: string) => Array.from({ length: 40 }, (_, i) => frame(`${p}${i}`, 'race'));
    // The same 20 frames reach both instances at once, as a record SQS hands out twice.
    const [ra, rb] = await Promise.all([
      Promise.all([...own('a'), ...shared].map((f) => a.assign(stream, f))),
      Promise.all([...shared, ...own('b')].map((f) => b.assign(stream, f))),
    ]);
    const stored = await items(stream);
    expect(stored.map((s) => s.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(new Set(stored.map((s) => s.id)).size).toBe(100);
    const seqOf = new Map(stored.map((s) => [s.id, s.seq]));
    for (const r of [...ra, ...rb]) expect(r.frame.seq).toBe(seqOf.get(r.frame.id));
    // Each shared frame was fresh for exactly one of the two.
    for (const f of shared) {
      const fresh = [...ra, ...rb].filter((r) => r.frame.id === f.id && r.fresh);
      expect(fresh).toHaveLength(1);
    }
    expect(await readHead(history(), stream)).toBe(100);
  });

  it('gives a redelivered frame its first number and its first frame back', async () => {
    const stream: StreamRef = { kind: 'room', id: 'again' };
    const first = await createSequencer(history()).assign(stream, frame('x', 'again'));
    const later = { ...frame('x', 'again'), sent_at: new Date(Date.now() + 5000).toISOString() };
    const again = await createSequencer(history()).assign(stream, later);
    expect(again).toEqual({ ...first, fresh: false });
    // The same id twice in one round: one number.
    const s = createSequencer(history());
    const [y1, y2] = await Promise.all([s.assign(stream, frame('y', 'again')), s.assign(stream, frame('y', 'again'))]);
    expect([y1.frame.seq, y2.frame.seq, y1.fresh, y2.fresh]).toEqual([2, 2, true, false]);
  });

  it('continues after a writer stopped between its put and raising the mark, and never goes back after TTL deletes', async () => {
    const stream: StreamRef = { kind: 'room', id: 'crash' };
    const seq = createSequencer(history());
    await seq.assign(stream, frame('c1', 'crash'));
    // A writer put seq 2 and died before raising the mark: the newest item still counts.
    const crashed = withSeq(frame('c2', 'crash'), 2);
    await putMessage(history(), stream, { seq: 2, frameId: 'c2', payload: crashed.payload, sentMs: Date.now() });
    expect((await seq.assign(stream, frame('c3', 'crash'))).frame.seq).toBe(3);
    expect((await seq.assign(stream, frame('c2', 'crash'))).frame.seq).toBe(2);
    // TTL deletes every message: the high-water mark keeps the numbers going up.
    for (const s of [1, 2, 3]) await db.ddb.send(new DeleteCommand({ TableName: names.historyTable, Key: { stream_id: streamKey(stream), seq: s } }));
    expect(await items(stream)).toEqual([]);
    expect((await seq.assign(stream, frame('c4', 'crash'))).frame.seq).toBe(4);
  });

  it('trims a stream past its cap and reports what the cap dropped as lost', async () => {
    const stream: StreamRef = { kind: 'room', id: 'capped' };
    const h = history({ maxPerStream: 30 });
    const seq = createSequencer(h);
    await Promise.all(Array.from({ length: 80 }, (_, i) => seq.assign(stream, frame(`k${i}`, 'capped'))));
    // Trimmed in batches of 25 at seq 55 (1-25) and 80 (26-50).
    expect((await items(stream)).map((s) => s.seq)).toEqual(Array.from({ length: 30 }, (_, i) => 51 + i));
    const page = await readAfter(h, stream, 10, 100);
    expect(page).toMatchObject({ head: 80, through: 80, more: false, lost: [{ from: 11, to: 50 }] });
    expect(page.messages.map((m) => m.seq)).toEqual(Array.from({ length: 30 }, (_, i) => 51 + i));
    // The cap also hides what is not trimmed yet.
    const tighter = await readAfter({ ...h, maxPerStream: 10 }, stream, 60, 100);
    expect(tighter.lost).toEqual([{ from: 61, to: 70 }]);
    expect(tighter.messages.map((m) => m.seq)).toEqual(Array.from({ length: 10 }, (_, i) => 71 + i));
  });

  it('pages a replay, skips expired messages as lost, and says where the stream is', async () => {
    const stream: StreamRef = { kind: 'user', id: 'pages' };
    let now = Date.now();
    const h = history({ retentionSeconds: 60, now: () => now });
    const seq = createSequencer(h);
    for (let i = 0; i < 5; i++) await seq.assign(stream, frame(`old${i}`));
    now += 120_000; // the first five are past their TTL (not yet deleted, as on DynamoDB)
    for (let i = 0; i < 5; i++) await seq.assign(stream, frame(`new${i}`));
    const first = await readAfter(h, stream, 0, 3);
    expect(first).toMatchObject({ head: 10, lost: [{ from: 1, to: 5 }], through: 8, more: true });
    expect(first.messages.map((m) => m.seq)).toEqual([6, 7, 8]);
    const rest = await readAfter(h, stream, 8, 3);
    expect(rest).toMatchObject({ head: 10, lost: [], through: 10, more: false });
    expect(rest.messages.map((m) => m.seq)).toEqual([9, 10]);
    // A hole only: up to `until`; what is gone inside it is lost.
    expect(await readAfter(h, stream, 3, 10, 7)).toMatchObject({ head: 10, lost: [{ from: 4, to: 5 }], through: 7, more: false });
    expect((await readAfter(h, stream, 3, 10, 7)).messages.map((m) => m.seq)).toEqual([6, 7]);
    // Nothing after the head; a client ahead of the head (history wiped) sees the head.
    expect(await readAfter(h, stream, 10, 3)).toMatchObject({ messages: [], lost: [], through: 10, more: false });
    expect(await readAfter(h, stream, 50, 3)).toMatchObject({ head: 10, messages: [], lost: [] });
    // Newest first for `hermes history`, by number or by time.
    expect((await readRecent(h, stream, { limit: 3 })).messages.map((m) => m.seq)).toEqual([10, 9, 8]);
    expect((await readRecent(h, stream, { limit: 50, since: 7 })).messages.map((m) => m.seq)).toEqual([10, 9, 8]);
    expect((await readRecent(h, stream, { limit: 50, sinceMs: Date.now() - 60_000 })).messages).toHaveLength(5);
    expect((await readRecent(h, stream, { limit: 50, sinceMs: Date.now() + 60_000 })).messages).toHaveLength(0);
  });
});

describe('replay', () => {
  it('stops posting at its deadline and says how far it got, so the client asks again from there', async () => {
    const stream: StreamRef = { kind: 'room', id: 'late-replay' };
    const h = history();
    const seq = createSequencer(h);
    for (let i = 0; i < 5; i++) await seq.assign(stream, frame(`lr${i}`, 'late-replay'));
    const posted: string[] = [];
    const management = { send: async (cmd: PostToConnectionCommand) => (posted.push(Buffer.from(cmd.input.Data as Uint8Array).toString('utf8')), { $metadata: {} }) };
    // A clock that reads the number of frames posted: the deadline comes after two.
    const result = await replay({ history: h, management: management as never, connectionId: 'c-late', stopAt: 2, now: () => posted.length }, [
      { name: 'room', ref: stream, since: 0 },
    ]);
    expect(posted.slice(0, 2).map((p) => (JSON.parse(p) as { seq: number; replay: boolean }).seq)).toEqual([1, 2]);
    expect(JSON.parse(posted[2])).toEqual({ resumed: { stream: 'room', since: 0, history: true, head: 5, through: 2, more: true, lost: [] } });
    expect(result).toEqual([{ stream: 'room', since: 0, replayed: 2, lost: 0, more: true }]);
  });
});
