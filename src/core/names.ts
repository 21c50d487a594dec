/** Resource naming: every AWS resource of a stage is called `hermes-<stage>-<part>`. */
export interface ResourceNames {
  stage: string;
  connectionsTable: string;
  tokensTable: string;
  queue: string;
  dlq: string;
  api: string;
  fn: (handler: HandlerName) => string;
  role: (handler: HandlerName) => string;
}

export const HANDLER_NAMES = ['authorizer', 'connect', 'disconnect', 'send-message', 'default'] as const;
export type HandlerName = (typeof HANDLER_NAMES)[number];

/** Index names on the connections table. */
export const ROOM_INDEX = 'room_id-index';
export const USER_INDEX = 'user_id-index';

// Lambda function names allow 64 chars and SQS/DynamoDB names 80/255 from [A-Za-z0-9_-]; a
// stage stays short and simple so every derived name fits everywhere.
const STAGE_PATTERN = /^[a-z0-9][a-z0-9-]{0,23}$/;

export function isValidStage(stage: string): boolean {
  return STAGE_PATTERN.test(stage);
}

export function resourceNames(stage: string): ResourceNames {
  const p = `hermes-${stage}`;
  return {
    stage,
    connectionsTable: `${p}-connections`,
    tokensTable: `${p}-tokens`,
    queue: `${p}-messages`,
    dlq: `${p}-messages-dlq`,
    api: `${p}-ws`,
    fn: (h) => `${p}-${h}`,
    role: (h) => `${p}-${h}-role`,
  };
}
