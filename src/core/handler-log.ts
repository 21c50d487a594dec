/**
 * The handlers' logs: Powertools for AWS Lambda's Logger, so every line is one JSON object with
 * level, message, timestamp, service, the function's name and the invocation's request id
 * (`function_request_id`), plus the keys the call passes (room, messageId, ...). On AWS the
 * lines go to stdout/stderr, which Lambda sends to CloudWatch Logs; the local stack and tests
 * pass a destination instead.
 */
import { Logger, LogLevelThreshold, type LogItem } from '@aws-lambda-powertools/logger';
import type { ConstructorOptions } from '@aws-lambda-powertools/logger/types';
import type { Context } from 'aws-lambda';

/** Where lines go: the narrowest console-like shape (the local stack's logs, a test's capture). */
export type LineLogger = Pick<Console, 'info' | 'warn' | 'error'>;

export const LOG_SERVICE = 'hermes';

/**
 * The Logger of one handler instance. With a destination, lines go there instead of stdout.
 *
 * Why a subclass that overrides `printLog`: several local stacks share one process, so the
 * destination has to belong to the Logger instance. The Logger has no option for it (its
 * `console` is private, and POWERTOOLS_DEV makes every instance write to the global console);
 * `printLog` is the protected method it prints every line through, and overriding it keeps its
 * serialisation (its JSON replacer for errors, bigints and cycles) while changing only where the
 * line goes. The class is made per destination so the destination is there even for lines the
 * Logger prints from its own constructor. `createLogger` keeps children (one per invocation, see
 * invocationLogger) in this class, and `getColdStart` makes them share the instance's cold start.
 */
export function createHandlerLogger(destination?: LineLogger): Logger {
  let root: HandlerLogger | undefined;
  class HandlerLogger extends Logger {
    protected override printLog(logLevel: number, log: LogItem): void {
      if (!destination) return super.printLog(logLevel, log);
      log.prepareForPrint();
      const line = JSON.stringify(log.getAttributes(), this.getJsonReplacer());
      if (logLevel >= LogLevelThreshold.ERROR) destination.error(line);
      else if (logLevel >= LogLevelThreshold.WARN) destination.warn(line);
      else destination.info(line);
    }

    protected override createLogger(options?: ConstructorOptions): Logger {
      return new HandlerLogger(options);
    }

    protected override getColdStart(): boolean {
      return root && root !== this ? root.getColdStart() : super.getColdStart();
    }
  }
  root = new HandlerLogger({ serviceName: LOG_SERVICE });
  return root;
}

/**
 * The logger of one invocation, carrying its context (request id, function name). A child rather
 * than `addContext` on the instance's logger: AWS runs one invocation at a time per instance, but
 * the local stack runs invocations of one handler instance concurrently, and a shared context
 * would put one invocation's request id on another's lines.
 */
export function invocationLogger(base: Logger, context?: Context): Logger {
  const log = base.createChild();
  if (context) log.addContext(context);
  return log;
}
