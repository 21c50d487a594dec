/**
 * `hermes publish` against the real local stack: what it sends arrives at a listener, and bad
 * input fails with one clear line. A stand-in SQS endpoint (at the network boundary) shows how
 * a rejected batch entry is reported.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createServer, type Server } from 'node:http';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { startCliStack, cli, type CliStack } from './helpers/cli.js';
import { connect, type TestClient } from './helpers/ws.js';
import { issueToken } from '../src/core/tokens.js';
import { writeStageRecord } from '../src/config/stage-record.js';

let s: CliStack;
let dir: string;
const open: TestClient[] = [];

async function listener(room: string): Promise<TestClient> {
  const t = await issueToken(
    { ddb: s.stack.ddb, table: s.stack.names.tokensTable, secret: s.stack.jwtSecret, bcryptCost: 4 },
    { userId: `watcher-${open.length}`, roomId: room, ttlSeconds: 600 },
  );
  const c = await connect(s.stack.endpoints.websocket, t.token);
  open.push(c);
  return c;
}

function file(name: string, text: string): string {
  const f = path.join(dir, name);
  writeFileSync(f, text);
  return f;
}

/** The error output is one `error:` line (plus its hint), never a stack trace. */
function oneError(stderr: string): string {
  const errors = stderr.split('\n').filter((l) => l.startsWith('error:'));
  expect(errors, stderr).toHaveLength(1);
  expect(stderr).not.toMatch(/^\s+at /m);
  return errors[0];
}

beforeAll(async () => {
  s = await startCliStack();
  dir = mkdtempSync(path.join(tmpdir(), 'hermes-publish-'));
});

afterAll(async () => {
  await Promise.all(open.map((c) => c.close()));
  await s?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('hermes publish: what arrives', () => {
  it('sends text as {type, data} from hermes-cli and reports the id the listener sees', async () => {
    const l = await listener('news');
    const r = await s.run(['publish', '--room', 'news', 'Backup', 'job', 'finished']);
    expect(r.code, r.stderr).toBe(0);
    const [frame] = (await l.waitFor(1)) as Array<Record<string, unknown>>;
    expect(frame).toMatchObject({ room_id: 'news', user_id: 'hermes-cli', data: { type: 'info', data: 'Backup job finished' } });
    expect(r.stdout).toMatch(new RegExp(`^sent ${frame.id}  room news\\n$`));
  });

  it('sends --data JSON as the data, with --type for text, --user and --id', async () => {
    const l = await listener('ops');
    const data = await s.run(['publish', '--room', 'ops', '--data', '{"type":"warning","data":"Disk 91% full","host":"db1"}', '--json']);
    expect(data.code, data.stderr).toBe(0);
    const out = JSON.parse(data.stdout);
    expect(out.failed).toEqual([]);
    expect(out.sent).toHaveLength(1);
    const typed = await s.run(['publish', '--room', 'ops', '--type', 'error', '--user', 'backend', '--id', 'msg-42', 'Job failed']);
    expect(typed.code, typed.stderr).toBe(0);
    // Two queue messages: SQS and parallel pollers promise no order between them.
    const frames = (await l.waitFor(2)) as Array<Record<string, unknown>>;
    const byId = (id: string) => frames.find((f) => f.id === id);
    expect(byId(out.sent[0].id)).toMatchObject({ data: { type: 'warning', data: 'Disk 91% full', host: 'db1' } });
    expect(byId('msg-42')).toMatchObject({ user_id: 'backend', data: { type: 'error', data: 'Job failed' } });
  });

  it('publishes every line of an NDJSON file: full messages, to several rooms', async () => {
    const a = await listener('room-a');
    const b = await listener('room-b');
    const f = file(
      'mixed.ndjson',
      ['{"room_id":"room-a","data":{"type":"info","data":"one"}}', '', '{"room_id":"room-b","user_id":"billing","data":"two","id":"b-2"}', '{"room_id":"room-a","data":3}', ''].join('\n'),
    );
    const r = await s.run(['publish', '--file', f, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.failed).toEqual([]);
    expect(out.sent.map((x: { line: number; room: string }) => [x.line, x.room])).toEqual([[1, 'room-a'], [3, 'room-b'], [4, 'room-a']]);
    const fa = (await a.waitFor(2)) as Array<Record<string, unknown>>;
    const [fb] = (await b.waitFor(1)) as Array<Record<string, unknown>>;
    expect(fa.map((x) => x.data).sort()).toEqual([3, { type: 'info', data: 'one' }].sort());
    expect(fa.every((x) => x.user_id === 'hermes-cli')).toBe(true);
    expect(fb).toMatchObject({ id: 'b-2', user_id: 'billing', data: 'two' });
  });

  it('reads NDJSON data lines from piped standard input with --room, and from -', async () => {
    const l = await listener('piped');
    const piped = await s.run(['publish', '--room', 'piped'], { stdin: '{"type":"info","data":"from a pipe"}\n"plain"\n' });
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stdout.trim().split('\n')).toHaveLength(2);
    const dash = await s.run(['publish', '-'], { stdin: '{"room_id":"piped","data":"dash"}\n' });
    expect(dash.code, dash.stderr).toBe(0);
    const frames = (await l.waitFor(3)) as Array<Record<string, unknown>>;
    expect(frames.map((f) => f.data)).toEqual(expect.arrayContaining([{ type: 'info', data: 'from a pipe' }, 'plain', 'dash']));
  });

  it('summarises a large file, with progress on stderr', async () => {
    const lines = Array.from({ length: 150 }, (_, i) => JSON.stringify({ n: i }));
    const r = await s.run(['publish', '--room', 'bulk', '--file', file('bulk.ndjson', lines.join('\n'))]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('sent 150 of 150 messages to 1 room');
    expect(r.stderr).toContain('published 150/150');
  });
});

describe('hermes publish: bad input and no stack', () => {
  it('rejects an empty room with one line, exit 2', async () => {
    const r = await s.run(['publish', '--room', '', 'hello']);
    expect(r.code).toBe(2);
    expect(oneError(r.stderr)).toBe('error: Invalid --room value: the room must be a non-empty string.');
  });

  it('rejects --data that is not JSON, and names the line of a file', async () => {
    const data = await s.run(['publish', '--room', 'x', '--data', '{nope']);
    expect(data.code).toBe(2);
    expect(oneError(data.stderr)).toContain('Invalid --data value: it is not JSON');
    const f = file('bad.ndjson', '{"room_id":"x","data":1}\n\n{"room_id": "x", "data": oops}\n');
    const bad = await s.run(['publish', '--file', f]);
    expect(bad.code).toBe(2);
    expect(oneError(bad.stderr)).toContain(`Line 3 of ${f} is not JSON`);
    const noRoom = await s.run(['publish', '--file', file('noroom.ndjson', '{"data":1}\n')]);
    expect(noRoom.code).toBe(2);
    expect(oneError(noRoom.stderr)).toContain("Line 1 of");
    expect(noRoom.stderr).toContain('room_id must be a non-empty string');
    const missing = await s.run(['publish', '--file', path.join(dir, 'absent.ndjson')]);
    expect(missing.code).toBe(2);
    expect(oneError(missing.stderr)).toContain('no such file');
  });

  it('says which limit an oversized message breaks and by how much, and sends nothing', async () => {
    const big = await s.run(['publish', '--room', 'x', 'a'.repeat(300 * 1024)]);
    expect(big.code).toBe(1);
    expect(oneError(big.stderr)).toMatch(/SQS message limit \(256 KB\): the message is \d+ bytes, \d+ bytes over the limit of 262144 bytes\./);
    const lines = ['{"ok":1}', JSON.stringify({ blob: 'b'.repeat(200 * 1024) })];
    const f = file('big.ndjson', lines.join('\n'));
    const frame = await s.run(['publish', '--room', 'x', '--file', f]);
    expect(frame.code).toBe(1);
    expect(oneError(frame.stderr)).toMatch(new RegExp(`Line 2 of ${f}: API Gateway WebSocket message limit \\(128 KB\\): .* bytes over the limit of 131072 bytes`));
    expect(frame.stdout).toBe('');
  });

  it('is a usage error with nothing to publish, or two sources at once', async () => {
    const nothing = await s.run(['publish', '--room', 'x'], { stdinIsTTY: true });
    expect(nothing.code).toBe(2);
    expect(oneError(nothing.stderr)).toBe('error: Nothing to publish.');
    const emptyPipe = await s.run(['publish', '--room', 'x']);
    expect(emptyPipe.code).toBe(2);
    expect(oneError(emptyPipe.stderr)).toContain('no messages in standard input');
    const both = await s.run(['publish', '--room', 'x', '--data', '1', 'text']);
    expect(both.code).toBe(2);
    expect(oneError(both.stderr)).toContain('Give only one of: message text, --data');
    const unknown = await s.run(['publish', '--bogus']);
    expect(unknown.code).toBe(2);
  });

  it('says no local stack is running (exit 1, one line, no stack trace)', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'hermes-empty-'));
    try {
      const r = await cli(['--state-dir', empty, 'publish', '--room', 'demo', 'hello']);
      expect(r.code).toBe(1);
      expect(oneError(r.stderr)).toBe(`error: No local stack is running (no queue URL recorded in ${empty}).`);
      expect(r.stderr).toContain('hermes dev');
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('says the endpoint is unreachable when the recorded stack is gone', async () => {
    const stale = mkdtempSync(path.join(tmpdir(), 'hermes-stale-'));
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const port = (dead.address() as AddressInfo).port;
    await new Promise((r) => dead.close(r));
    try {
      writeStageRecord(stale, { stage: 'local', endpoints: { sqs: `http://127.0.0.1:${port}` }, queueUrl: `http://127.0.0.1:${port}/123456789012/q` });
      const lines = Array.from({ length: 25 }, (_, i) => String(i)).join('\n');
      const r = await cli(['--state-dir', stale, 'publish', '--room', 'x', '--file', '-'], { stdin: lines });
      expect(r.code).toBe(1);
      expect(oneError(r.stderr)).toContain('Cannot reach the endpoint (ECONNREFUSED)');
    } finally {
      rmSync(stale, { recursive: true, force: true });
    }
  });
});

describe('hermes publish: entries the queue rejects', () => {
  let fake: Server;
  let stateDir: string;

  beforeAll(async () => {
    // Answers SendMessageBatch (AWS JSON 1.0) like SQS: entries whose body mentions "reject"
    // fail with a sender fault, the others succeed (with the MD5 the SDK checks).
    fake = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const { Entries } = JSON.parse(body) as { Entries: Array<{ Id: string; MessageBody: string }> };
        const md5 = (t: string) => createHash('md5').update(t).digest('hex');
        const out = {
          Successful: Entries.filter((e) => !e.MessageBody.includes('reject')).map((e) => ({ Id: e.Id, MessageId: `m-${e.Id}`, MD5OfMessageBody: md5(e.MessageBody) })),
          Failed: Entries.filter((e) => e.MessageBody.includes('reject')).map((e) => ({ Id: e.Id, Code: 'InvalidParameterValue', Message: 'rejected by the test', SenderFault: true })),
        };
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' }).end(JSON.stringify(out));
      });
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
    stateDir = mkdtempSync(path.join(tmpdir(), 'hermes-fake-sqs-'));
    writeStageRecord(stateDir, { stage: 'local', endpoints: { sqs: url }, queueUrl: `${url}/123456789012/hermes-local-messages` });
  });

  afterAll(async () => {
    await new Promise((r) => fake?.close(r));
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('reports each rejected entry with its line and exits 1, having sent the others', async () => {
    const r = await cli(['--state-dir', stateDir, 'publish', '--room', 'x', '--json', '-'], { stdin: '"ok 1"\n"reject me"\n"ok 2"\n' });
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out.sent.map((x: { line: number }) => x.line)).toEqual([1, 3]);
    expect(out.failed).toEqual([{ index: 1, line: 2, room: 'x', code: 'InvalidParameterValue', message: 'rejected by the test' }]);
    expect(r.stderr).toContain('failed: line 2 (room x): InvalidParameterValue: rejected by the test');
  });
});
