/**
 * The local stack's part of the state dir (`.hermes/`): `hermes dev` records its endpoints there
 * so that other hermes commands in the same project find the stack, and keeps its SSM
 * parameters (the signing keys, file mode 0600) there, so they survive restarts and tokens stay
 * valid against a persisted database. The record's format and its reading and writing are
 * src/config's.
 */
import { chmodSync, mkdirSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import { readStageRecord, type StageRecord } from '../config/stage-record.js';
import { HermesError } from '../core/errors.js';
import type { LocalStack } from './stack.js';

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True if something accepts a TCP connection at `url`'s host and port within `timeoutMs`. */
export function answers(url: string, timeoutMs = 1000): Promise<boolean> {
  let host: string;
  let port: number;
  try {
    const u = new URL(url);
    host = u.hostname.replace(/^\[|\]$/g, '');
    port = Number(u.port);
  } catch {
    return Promise.resolve(false);
  }
  if (!port) return Promise.resolve(false);
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Refuse to start a second stack for the same state dir while the first still runs. A record
 * whose process is alive but answers on none of its ports is stale (after a reboot its pid may
 * belong to another program): the returned notice says so, and the caller goes ahead.
 */
export async function assertNotRunning(stateDir: string, stage: string): Promise<string | undefined> {
  const record = readStageRecord(stateDir, stage);
  if (!record?.pid || record.pid === process.pid || !isAlive(record.pid)) return undefined;
  const urls = [record.endpoints.websocket, record.endpoints.dynamodb, record.endpoints.sqs].filter((u): u is string => Boolean(u));
  const answering = await Promise.all(urls.map((u) => answers(u)));
  if (answering.some(Boolean)) {
    throw new HermesError(
      `A local stack is already running (pid ${record.pid}) at ${record.endpoints.websocket ?? 'an unknown address'}.`,
      { hint: 'Use it as it is, stop it with Ctrl-C in its terminal, or pass another --state-dir to run a second one.' },
    );
  }
  return `The stage record names pid ${record.pid}, which is alive but does not answer on ${urls.join(', ') || 'any recorded port'}: treating the record as stale (another program may have that pid now) and starting.`;
}

/**
 * Everything under the state dir is private to its owner: the tables hold token rows with
 * bcrypt hashes, the queues hold messages, ssm-parameters.json holds the signing keys, logs/ the
 * handlers' lines.
 * Existing entries are made 0700 (directories) and 0600 (files); new ones get that from the
 * umask `hermes dev` sets for its process (LevelDB creates its files with the umask's modes).
 */
export function privateStateDir(stateDir: string): void {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const walk = (dir: string) => {
    chmodSync(dir, 0o700);
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.isFile()) chmodSync(p, 0o600);
    }
  };
  walk(stateDir);
}

/** Where the local stack keeps its SSM parameters (the signing keys); the directory is made here. */
export function localParameterFile(stateDir: string): string {
  mkdirSync(stateDir, { recursive: true });
  return path.join(stateDir, 'ssm-parameters.json');
}

/** The record that lets other hermes commands (and tests) find a running local stack. */
export function localStageRecord(stack: LocalStack, extra: Partial<StageRecord> = {}): StageRecord {
  return {
    stage: stack.stage,
    region: stack.region,
    endpoints: stack.endpoints,
    queueUrl: stack.queues.queueUrl,
    dlqUrl: stack.queues.dlqUrl,
    secretLocation: `SSM parameter ${stack.names.parameter('signingKeys')} of the local stack (${stack.endpoints.ssm})`,
    pid: process.pid,
    startedAt: new Date().toISOString(),
    ...extra,
  };
}
