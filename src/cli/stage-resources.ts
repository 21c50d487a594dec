/**
 * The stage's resources the operator verbs (connections, prune-stale, disconnect, dlq, status,
 * history) work on, built from the context the same way for each: the connections store, the
 * history table and the queues.
 */
import type { CliContext } from './context.js';
import type { ConnectionStoreDeps } from '../core/connections.js';
import type { HistoryDeps } from '../core/history.js';
import { HermesError } from '../core/errors.js';

export async function connectionStore(ctx: CliContext): Promise<ConnectionStoreDeps> {
  return { ddb: await ctx.ddb(), table: ctx.config().names.connectionsTable };
}

/** The history table, read with the stage's retention and cap (so nothing the functions hide is shown). */
export async function historyStore(ctx: CliContext): Promise<HistoryDeps> {
  const cfg = ctx.config();
  return { ddb: await ctx.ddb(), table: cfg.names.historyTable, retentionSeconds: cfg.historyRetention.value, maxPerStream: cfg.historyMaxPerStream.value };
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
