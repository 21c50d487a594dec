/**
 * What the operator verbs (connections, prune-stale, disconnect, dlq, status) need from the
 * context, built the same way for each: the connections store, the management API, the queues.
 */
import type { CliContext } from './context.js';
import type { ConnectionStoreDeps } from '../core/connections.js';
import { HermesError, UsageError } from '../core/errors.js';

export async function connectionStore(ctx: CliContext): Promise<ConnectionStoreDeps> {
  return { ddb: await ctx.ddb(), table: ctx.config().names.connectionsTable };
}

/** The main queue and its dead-letter queue; the usual "start the stack" error when neither is known. */
export function requireQueues(ctx: CliContext): { queueUrl: string; dlqUrl: string } {
  const { queueUrl } = ctx.requireQueue();
  const cfg = ctx.config();
  const dlqUrl = cfg.dlqUrl.value;
  if (!dlqUrl) {
    throw new HermesError(`No dead-letter queue URL is recorded for stage "${cfg.stage.value}".`, {
      hint: `Set HERMES_DLQ_URL to the URL of ${cfg.names.dlq}, or redeploy the stage so that it is recorded.`,
    });
  }
  return { queueUrl, dlqUrl };
}

/** A flag given with an empty value is a mistake, not "all". */
export function nonEmpty(flag: string, value: string | undefined): string | undefined {
  if (value !== undefined && value.trim() === '') throw new UsageError(`Invalid ${flag} value: it is empty.`, { hint: `Pass ${flag} <value>, or leave the flag out.` });
  return value;
}

/** The last part of a queue URL: its name. */
export function queueName(url: string): string {
  return url.slice(url.lastIndexOf('/') + 1);
}

/** Body text on one line, cut to `max` characters. */
export function oneLine(text: string, max: number): string {
  const flat = text.replace(/\r?\n/g, '\\n');
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
