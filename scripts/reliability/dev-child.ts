/**
 * `hermes dev` as a child process, the way a user runs it (bin/hermes, real signals), for the
 * local-stack benchmarks (scripts/bench-local.mjs) and the fault suite (scripts/faults.mjs):
 * its endpoints and secret, its RSS and CPU time from /proc, Ctrl-C and kill -9, and tokens
 * and clients against it. Loopback only; every wait is bounded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { readStageRecord, type StageRecord } from '../../src/config/stage-record.js';
import { createDocumentClient, createSqsClient } from '../../src/core/clients.js';
import { issueToken } from '../../src/core/tokens.js';
import { currentKey } from '../../src/core/signing-keys.js';
import { readStageKeyRing } from '../../src/config/signing-keys.js';
import { resolveConfig } from '../../src/config/resolve.js';
import { resourceNames } from '../../src/stack/names.js';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { machine } from '../bench/suite.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// Bundled to dist/bench-local/*.mjs: the root is found from the working directory's package.
const hermesBin = path.join(process.env.HERMES_ROOT ?? root, 'bin/hermes');

export interface Ready {
  websocket: string;
  management: string;
  dynamodb: string;
  sqs: string;
  queueUrl: string;
  dlqUrl: string;
  pid: number;
  startupMs: number;
}

export interface DevChild {
  child: ChildProcess;
  pid: number;
  stateDir: string;
  ready: Ready;
  record: StageRecord;
  ddb: DynamoDBDocumentClient;
  sqs: SQSClient;
  names: ReturnType<typeof resourceNames>;
  stderr(): string;
  rssMb(): number;
  cpuSeconds(): number;
  /** SIGINT (Ctrl-C) or SIGKILL; resolves with the exit code (null when killed) and how long it took. */
  stop(signal?: 'SIGINT' | 'SIGKILL', timeoutMs?: number): Promise<{ code: number | null; ms: number }>;
  token(user: string, room: string, bcryptCost?: number): Promise<string>;
  destroyClients(): void;
}

export function tempStateDir(prefix = 'hermes-rel-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

export async function startDev(opts: { stateDir?: string; ephemeral?: boolean; args?: string[]; timeoutMs?: number } = {}): Promise<DevChild> {
  const stateDir = opts.stateDir ?? tempStateDir();
  const args = [hermesBin, 'dev', '--json', '--port', '0', '--dynamodb-port', '0', '--sqs-port', '0', '--state-dir', stateDir];
  if (opts.ephemeral) args.push('--ephemeral');
  args.push(...(opts.args ?? []));
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const ready = await new Promise<Ready>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hermes dev did not get ready in time; stderr:\n${stderr}`)), opts.timeoutMs ?? 30_000);
    child.stdout!.on('data', (d) => {
      stdout += d;
      const line = stdout.split('\n').find((l) => l.includes('"status":"ready"'));
      if (line) {
        clearTimeout(timer);
        resolve(JSON.parse(line) as Ready);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`hermes dev exited with ${code} before it was ready; stderr:\n${stderr}`));
    });
  });
  const record = readStageRecord(stateDir, 'local')!;
  const region = record.region ?? 'us-east-1';
  const ddb = await createDocumentClient({ region, endpoint: ready.dynamodb });
  const sqs = await createSqsClient({ region, endpoint: ready.sqs });
  const names = resourceNames('local');
  // The keys as every hermes command reads them: from the running stack's SSM endpoint.
  const signingKey = currentKey(await readStageKeyRing(resolveConfig({ stateDir }, {}), async () => undefined));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const pid = child.pid!;
  return {
    child,
    pid,
    stateDir,
    ready,
    record,
    ddb,
    sqs,
    names,
    stderr: () => stderr,
    rssMb: () => procRssMb(pid),
    cpuSeconds: () => procCpuSeconds(pid),
    async stop(signal = 'SIGINT', timeoutMs = 60_000) {
      const started = Date.now();
      child.kill(signal);
      let timer: NodeJS.Timeout | undefined;
      const code = await Promise.race([
        exited,
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`hermes dev did not exit within ${timeoutMs} ms of ${signal}`)), timeoutMs))),
      ]).finally(() => clearTimeout(timer));
      ddb.destroy();
      sqs.destroy();
      return { code, ms: Date.now() - started };
    },
    async token(user, room, bcryptCost = 10) {
      const t = await issueToken(
        { ddb, table: names.tokensTable, signingKey, bcryptCost },
        { userId: user, roomId: room, ttlSeconds: 3600 },
      );
      return t.token;
    },
    destroyClients() {
      ddb.destroy();
      sqs.destroy();
    },
  };
}

/** Resident memory of a process, threads included. */
export function procRssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : Number.NaN;
}

/** User + system CPU time of a process, all threads, in seconds. */
export function procCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat (utime, stime), counted from after the command name.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export interface Listener {
  ws: WebSocket;
  frames: number;
  last?: unknown;
  onFrame?: (frame: any, at: number) => void;
  closed: Promise<{ code: number; reason: string }>;
}

/** Opens a WebSocket; resolves when open, rejects with the HTTP status of a refused handshake. */
export function listen(url: string, token: string, timeoutMs = 35_000): Promise<Listener> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url}?token=${encodeURIComponent(token)}`, { handshakeTimeout: timeoutMs });
    const l: Listener = { ws, frames: 0, closed: new Promise((r) => ws.once('close', (code, reason) => r({ code, reason: reason.toString() }))) };
    ws.on('message', (data) => {
      l.frames++;
      const at = Date.now();
      if (l.onFrame) {
        try {
          l.onFrame(JSON.parse(data.toString()), at);
        } catch {
          l.onFrame(data.toString(), at);
        }
      }
    });
    ws.once('open', () => resolve(l));
    ws.once('unexpected-response', (_req, res) => {
      reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode }));
      ws.terminate();
    });
    ws.once('error', (err) => reject(err));
  });
}

/** The machine line every report starts with (the fan-out bench's facts, on one line). */
export function machineLine(): string {
  const m = machine();
  return `${m.cpu}, ${m.cores} cores, ${m.memoryGb} GiB, ${m.os}, Node ${m.node}, load average ${m.loadAverage.join(' ')}`;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

export { root };
