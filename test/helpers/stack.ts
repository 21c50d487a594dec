/** Start the real local stack in-process on free loopback ports, in memory. */
import { startLocalStack, type LocalStack, type LocalStackOptions } from '../../src/local/stack.js';
import type { LineLogger } from '../../src/core/handler-log.js';

export const quietLogger: LineLogger = { info: () => {}, warn: () => {}, error: () => {} };

export function startTestStack(opts: LocalStackOptions = {}): Promise<LocalStack> {
  return startLocalStack({
    ports: { gateway: 0, dynamodb: 0, sqs: 0 },
    logger: process.env.HERMES_TEST_LOGS ? console : quietLogger,
    ...opts,
  });
}

/**
 * A test stack that also serves the demo page and its token endpoint (src/local/demo.ts), as
 * `hermes dev` does. Tokens are hashed with the cheapest bcrypt cost to keep tests fast.
 */
export async function startDemoTestStack(
  opts: LocalStackOptions = {},
  demo: import('../../src/local/demo.js').DemoOptions = {},
): Promise<LocalStack> {
  const { createDemoHandler } = await import('../../src/local/demo.js');
  let stack: LocalStack | undefined;
  const httpHandler = createDemoHandler(() => stack, { bcryptCost: 4, ...demo });
  stack = await startTestStack({ ...opts, httpHandler });
  return stack;
}
