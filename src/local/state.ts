/**
 * The local stack's part of the state dir (`.hermes/`): `hermes dev` records its endpoints there
 * so that other hermes commands in the same project find the stack, and keeps its SSM
 * parameters (the signing keys, file mode 0600) there, so they survive restarts and tokens stay
 * valid against a persisted database. The record's format and its reading and writing are
 * src/config's.
 */
import { mkdirSync } from 'node:fs';
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
