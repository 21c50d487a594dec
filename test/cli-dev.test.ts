/**
 * `hermes dev` as a user runs it (in-process, Ctrl-C as an abort): a stage record whose process
 * is alive but does not answer is stale, one that answers is a running stack; every file the
 * persisted stack leaves under the state dir is private to its owner.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { createServer, type Server } from 'node:net';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cli, startCli } from './helpers/cli.js';
import { writeStageRecord, readStageRecord } from '../src/config/stage-record.js';
import { createDocumentClient, createSqsClient } from '../src/core/clients.js';
import { issueToken } from '../src/core/tokens.js';
import { currentKey } from '../src/core/signing-keys.js';
import { readStageKeyRing } from '../src/config/signing-keys.js';
import { resolveConfig } from '../src/config/resolve.js';
import { publish } from '../src/core/publish.js';
import { listConnections } from '../src/core/connections.js';
import { resourceNames } from '../src/stack/names.js';
import { connect } from './helpers/ws.js';

const dirs: string[] = [];
const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function stateDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'hermes-dev-'));
  dirs.push(d);
  return d;
}

async function listening(): Promise<number> {
  const s = createServer((c) => c.destroy());
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as { port: number }).port;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

const devArgs = (dir: string, ...more: string[]) => ['dev', '--json', '--port', '0', '--dynamodb-port', '0', '--sqs-port', '0', '--state-dir', dir, ...more];

function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

describe('hermes dev and its state dir', () => {
  it('treats a record whose pid is alive but answers on no port as stale, says so, and starts', async () => {
    const dir = stateDir();
    const port = await freePort();
    // The parent process is alive and is not a hermes stack: what a reboot can leave behind.
    writeStageRecord(dir, { stage: 'local', pid: process.ppid, endpoints: { websocket: `ws://127.0.0.1:${port}/local`, dynamodb: `http://127.0.0.1:${port}` } });
    const run = startCli(devArgs(dir, '--ephemeral'), { timeoutMs: 45_000 });
    await run.waitFor('stdout', '"status":"ready"', 40_000);
    expect(run.stderr()).toContain(`The stage record names pid ${process.ppid}, which is alive but does not answer on ws://127.0.0.1:${port}/local`);
    expect(run.stderr()).toContain('treating the record as stale');
    run.interrupt();
    expect((await run.done).code).toBe(0);
  });

  it('refuses to start while the recorded stack answers', async () => {
    const dir = stateDir();
    const port = await listening();
    writeStageRecord(dir, { stage: 'local', pid: process.ppid, endpoints: { websocket: `ws://127.0.0.1:${port}/local` } });
    const res = await cli(devArgs(dir, '--ephemeral'));
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain(`A local stack is already running (pid ${process.ppid})`);
  });

  it('keeps every file of a persisted stack 0600 and every directory 0700', async () => {
    const dir = stateDir();
    const run = startCli(devArgs(dir), { timeoutMs: 45_000 });
    await run.waitFor('stdout', '"status":"ready"', 40_000);
    // A token row (a bcrypt hash) goes into the tables.
    const ready = JSON.parse(run.stdout().split('\n')[0]);
    const token = await cli(['token', 'issue', '--user', 'alice', '--room', 'demo', '--json', '--state-dir', dir]);
    expect(token.code).toBe(0);
    expect(ready.status).toBe('ready');
    run.interrupt();
    expect((await run.done).code).toBe(0);
    const all = files(dir);
    expect(all.some((f) => f.includes(`${path.sep}dynamodb${path.sep}`))).toBe(true);
    const loose = all.filter((f) => (statSync(f).mode & 0o077) !== 0).map((f) => `${path.relative(dir, f)} ${(statSync(f).mode & 0o777).toString(8)}`);
    expect(loose).toEqual([]);
    const dirsOpen = readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => path.join(e.parentPath, e.name))
      .filter((d) => (statSync(d).mode & 0o077) !== 0);
    expect(dirsOpen).toEqual([]);
  });

  it('stops on Ctrl-C under load with exit 0, no error, and no connection row left behind', async () => {
    const dir = stateDir();
    const names = resourceNames('local');
    const start = async () => {
      const run = startCli(devArgs(dir), { timeoutMs: 60_000 });
      await run.waitFor('stdout', '"status":"ready"', 40_000);
      const ready = JSON.parse(run.stdout().split('\n')[0]);
      const ddb = await createDocumentClient({ region: 'us-east-1', endpoint: ready.dynamodb });
      return { run, ready, ddb };
    };
    const first = await start();
    const signingKey = currentKey(await readStageKeyRing(resolveConfig({ stateDir: dir }, {}), async () => undefined));
    const sqs = await createSqsClient({ region: 'us-east-1', endpoint: first.ready.sqs });
    const clients = [];
    for (let i = 0; i < 30; i++) {
      const t = await issueToken({ ddb: first.ddb, table: names.tokensTable, signingKey, bcryptCost: 4 }, { userId: `u${i}`, roomId: `room-${i % 3}`, ttlSeconds: 600 });
      clients.push(await connect(first.ready.websocket, t.token));
    }
    let flowing = true;
    const flow = (async () => {
      for (let k = 0; flowing && k < 2000; k++) {
        await publish({ sqs, queueUrl: first.ready.queueUrl }, [0, 1, 2].map((r) => ({ room_id: `room-${r}`, data: k }))).catch(() => undefined);
      }
    })();
    await clients[0].waitFor(3, 20_000);
    first.run.interrupt();
    const done = await first.run.done;
    flowing = false;
    await flow;
    sqs.destroy();
    first.ddb.destroy();
    expect(done.code, done.stderr).toBe(0);
    expect(done.stderr).not.toMatch(/Database is closed|ECONNREFUSED|error/i);
    expect((await Promise.all(clients.map((c) => c.closed))).every((c) => c.code === 1001)).toBe(true);

    const second = await start();
    try {
      expect(await listConnections({ ddb: second.ddb, table: names.connectionsTable })).toEqual([]);
    } finally {
      second.ddb.destroy();
      second.run.interrupt();
      expect((await second.run.done).code).toBe(0);
    }
  });
});
