import { describe, it, expect } from 'vitest';
import { parseQueueMessage, buildFrame, encodeFrame, encodeQueueMessage, APIGW_MESSAGE_LIMIT } from '../src/core/envelope.js';
import { MalformedMessageError, LimitError } from '../src/core/errors.js';
import { chunkBatches } from '../src/core/publish.js';

describe('envelope', () => {
  it('accepts the documented queue body and keeps an optional id', () => {
    expect(parseQueueMessage('{"room_id":"r","user_id":"u","data":{"type":"info","data":"x"},"id":"m1"}')).toEqual({
      room_id: 'r', user_id: 'u', data: { type: 'info', data: 'x' }, id: 'm1',
    });
    expect(parseQueueMessage('{"room_id":"r","data":null}')).toEqual({ room_id: 'r', data: null });
  });

  it.each([
    ['not json', /not JSON/],
    ['[1,2]', /JSON object/],
    ['{"data":1}', /room_id must be a non-empty string/],
    ['{"room_id":"","data":1}', /room_id must be a non-empty string/],
    ['{"room_id":"r"}', /no "data"/],
    ['{"room_id":"r","data":1,"user_id":5}', /user_id must be a string/],
  ])('refuses %s', (body, msg) => {
    expect(() => parseQueueMessage(body)).toThrow(MalformedMessageError);
    expect(() => parseQueueMessage(body)).toThrow(msg);
  });

  it('builds the frame clients read, with data.type and data.data untouched', () => {
    const f = buildFrame({ room_id: 'r', user_id: 'u', data: { type: 'info', data: 'Backup job finished' }, id: 'x' }, new Date(0));
    expect(f).toEqual({ id: 'x', room_id: 'r', user_id: 'u', data: { type: 'info', data: 'Backup job finished' }, sent_at: '1970-01-01T00:00:00.000Z' });
  });

  it('says which limit a message breaks and by how much', () => {
    const big = 'x'.repeat(APIGW_MESSAGE_LIMIT);
    let err: unknown;
    try {
      encodeFrame(buildFrame({ room_id: 'r', data: big }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LimitError);
    expect((err as LimitError).message).toMatch(/128 KB/);
    expect((err as LimitError).actualBytes - (err as LimitError).limitBytes).toBeGreaterThan(0);
    expect(() => encodeQueueMessage({ room_id: 'r', data: 'y'.repeat(300 * 1024) })).toThrow(/SQS message limit \(256 KB\)/);
  });

  it('calls data that cannot be encoded malformed (too deep, circular, BigInt), never a transient error', () => {
    let deep: unknown = 'bottom';
    for (let i = 0; i < 200_000; i++) deep = { d: deep };
    const circular: Record<string, unknown> = { a: 1 };
    circular.self = circular;
    for (const data of [deep, circular, { n: 10n }]) {
      expect(() => encodeFrame(buildFrame({ room_id: 'r', data }))).toThrow(MalformedMessageError);
      expect(() => encodeQueueMessage({ room_id: 'r', data })).toThrow(MalformedMessageError);
    }
    expect(() => encodeFrame(buildFrame({ room_id: 'r', data: deep }))).toThrow("The message's data cannot be encoded as JSON: it is nested too deeply.");
  });

  it('chunks batches by count (10) and by request size (256 KB)', () => {
    expect(chunkBatches(Array.from({ length: 25 }, () => 'a')).map((b) => b.length)).toEqual([10, 10, 5]);
    const hundredK = 'z'.repeat(100 * 1024);
    expect(chunkBatches([hundredK, hundredK, hundredK, 'small'])).toEqual([[0, 1], [2, 3]]);
  });
});
