/**
 * The local stack's part of the state dir (`.hermes/`): `hermes dev` records its endpoints and
 * its throwaway JWT secret there (file mode 0600) so that other hermes commands in the same
 * project find the stack. The secret survives restarts so tokens stay valid against a
 * persisted database. The record's format and its reading and writing are src/config's.
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { readStageRecord, type StageRecord } from '../config/stage-record.js';
import { generateJwtSecret } from '../core/tokens.js';
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

/** Refuse to start a second stack for the same state dir while the first still runs. */
export function assertNotRunning(stateDir: string, stage: string): void {
  const record = readStageRecord(stateDir, stage);
  if (record?.pid && record.pid !== process.pid && isAlive(record.pid)) {
    throw new HermesError(
      `A local stack is already running (pid ${record.pid}) at ${record.endpoints.websocket ?? 'an unknown address'}.`,
      { hint: 'Use it as it is, stop it with Ctrl-C in its terminal, or pass another --state-dir to run a second one.' },
    );
  }
}

/** The local stage's signing key: kept in the state dir, made on first use. */
export function localJwtSecret(stateDir: string): string {
  const file = path.join(stateDir, 'jwt-secret');
  if (existsSync(file)) {
    const s = readFileSync(file, 'utf8').trim();
    if (s.length >= 32) return s;
  }
  mkdirSync(stateDir, { recursive: true });
  const secret = generateJwtSecret();
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

/** The record that lets other hermes commands (and tests) find a running local stack. */
export function localStageRecord(stack: LocalStack, extra: Partial<StageRecord> = {}): StageRecord {
  return {
    stage: stack.stage,
    region: stack.region,
    endpoints: stack.endpoints,
    queueUrl: stack.queues.queueUrl,
    dlqUrl: stack.queues.dlqUrl,
    jwtSecret: stack.jwtSecret,
    pid: process.pid,
    startedAt: new Date().toISOString(),
    ...extra,
  };
}
