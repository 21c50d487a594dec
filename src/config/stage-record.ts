/**
 * The stage record: `<state dir>/stages/<stage>.json`, written by `hermes dev` for the local
 * stack and by `hermes deploy` for a deployed stage, so that other commands (and, later, a
 * backend library) find the stage's endpoints and queues without asking AWS.
 */
import { mkdirSync, readFileSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../core/errors.js';
import { DEFAULT_STAGE } from '../core/defaults.js';
import { writePrivateFile } from './private-file.js';

export interface ServiceEndpoints {
  dynamodb?: string;
  sqs?: string;
  /** SSM Parameter Store, where the signing keys are (the local stack's own, or an emulator). */
  ssm?: string;
  /** `@connections` management API base URL including the stage, e.g. http://127.0.0.1:3001/local */
  management?: string;
  /** WebSocket URL clients connect to, e.g. ws://127.0.0.1:3001/local */
  websocket?: string;
}

/** What `hermes dev` writes into the state dir for other commands, and what deploy records. */
export interface StageRecord {
  stage: string;
  region?: string;
  endpoints: ServiceEndpoints;
  queueUrl?: string;
  dlqUrl?: string;
  pid?: number;
  startedAt?: string;
  /** Where the stage's signing keys live (never a key). */
  secretLocation?: string;
  [extra: string]: unknown;
}

/** Path of the record of a stage inside the state dir. */
export function stageRecordPath(stateDir: string, stage: string): string {
  return path.join(stateDir, 'stages', `${stage}.json`);
}

export function readStageRecord(stateDir: string, stage: string): StageRecord | undefined {
  const file = stageRecordPath(stateDir, stage);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as StageRecord;
  } catch {
    throw new UsageError(`The stage record ${file} is not valid JSON.`, {
      hint: `Delete it and run \`hermes ${stage === DEFAULT_STAGE ? 'dev' : `deploy --stage ${stage}`}\` again.`,
    });
  }
}

/** Writes the record with mode 0600 (the local one holds a secret); returns its path. */
export function writeStageRecord(stateDir: string, record: StageRecord): string {
  const file = stageRecordPath(stateDir, record.stage);
  writePrivateFile(file, `${JSON.stringify(record, null, 2)}\n`);
  return file;
}

/** Removes the record; with `onlyIfPid`, only if that process wrote it (a restart may have replaced it). */
export function removeStageRecord(stateDir: string, stage: string, onlyIfPid?: number): void {
  const file = stageRecordPath(stateDir, stage);
  if (!existsSync(file)) return;
  if (onlyIfPid !== undefined && readStageRecord(stateDir, stage)?.pid !== onlyIfPid) return;
  rmSync(file, { force: true });
}

/** A .gitignore inside the state dir so its records (and the local secret) are never committed by accident. */
export function protectStateDir(stateDir: string): void {
  mkdirSync(stateDir, { recursive: true });
  const gi = path.join(stateDir, '.gitignore');
  if (!existsSync(gi)) writeFileSync(gi, '*\n');
}
