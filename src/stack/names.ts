/** Resource naming: every AWS resource of a stage is called `hermes-<stage>-<part>`. */
import { QUEUES, type EnvSetting, type HandlerName, type IndexKey, type QueueKey, type TableKey } from './definition.js';

export interface ResourceNames {
  stage: string;
  connectionsTable: string;
  tokensTable: string;
  historyTable: string;
  queue: string;
  dlq: string;
  api: string;
  table: (key: TableKey) => string;
  queueName: (key: QueueKey) => string;
  fn: (handler: HandlerName) => string;
  role: (handler: HandlerName) => string;
}

/** Index names on the connections table (./tables.ts). */
export const ROOM_INDEX = 'room_id-index';
export const USER_INDEX = 'user_id-index';
/** The local secondary index of the history table: a stream's messages by frame id. */
export const FRAME_INDEX = 'frame_id-index';
/** Every index by the key access grants use (IndexKey in ./definition.ts). */
export const INDEX_NAMES: Record<IndexKey, string> = { room: ROOM_INDEX, user: USER_INDEX, frame: FRAME_INDEX };

// Lambda function names allow 64 chars and SQS/DynamoDB names 80/255 from [A-Za-z0-9_-]; a
// stage stays short and simple so every derived name fits everywhere.
const STAGE_PATTERN = /^[a-z0-9][a-z0-9-]{0,23}$/;

export function isValidStage(stage: string): boolean {
  return STAGE_PATTERN.test(stage);
}

export function resourceNames(stage: string): ResourceNames {
  const p = `hermes-${stage}`;
  const table = (key: TableKey) => `${p}-${key}`;
  const queueName = (key: QueueKey) => `${p}-${QUEUES[key].suffix}`;
  return {
    stage,
    connectionsTable: table('connections'),
    tokensTable: table('tokens'),
    historyTable: table('history'),
    queue: queueName('messages'),
    dlq: queueName('dlq'),
    api: `${p}-ws`,
    table,
    queueName,
    fn: (h) => `${p}-${h}`,
    role: (h) => `${p}-${h}-role`,
  };
}

/** The settings whose values are names alone (the stage and its tables): the same locally and deployed. */
export function nameSettings(names: ResourceNames): Partial<Record<EnvSetting, string>> {
  return { stage: names.stage, connectionsTable: names.connectionsTable, tokensTable: names.tokensTable, historyTable: names.historyTable };
}
