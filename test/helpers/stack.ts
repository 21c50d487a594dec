/** Start the real local stack in-process on free loopback ports, in memory. */
import { startLocalStack, type LocalStack, type LocalStackOptions } from '../../src/local/stack.js';
import type { Logger } from '../../src/core/handler-deps.js';

export const quietLogger: Logger = { info: () => {}, warn: () => {}, error: () => {} };

export function startTestStack(opts: LocalStackOptions = {}): Promise<LocalStack> {
  return startLocalStack({
    ports: { gateway: 0, dynamodb: 0, sqs: 0 },
    logger: process.env.HERMES_TEST_LOGS ? console : quietLogger,
    ...opts,
  });
}
