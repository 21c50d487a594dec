/**
 * `--since <seq|duration>` of `hermes listen` and `hermes history`: the seq a stream's replay
 * starts after. A seq is taken as is; a duration is looked up in the stage's history table
 * (the seq before the first message sent within it).
 */
import type { CliContext } from './context.js';
import type { StreamRef } from '../core/history.js';

export type Since = { seq: number } | { seconds: number };

export async function parseSinceFlag(raw: string): Promise<Since> {
  const { parseSince } = await import('../config/parse.js');
  return parseSince('--since', raw);
}

/** The seq after which `stream` is replayed for `since`. */
export async function sinceSeq(ctx: CliContext, since: Since, stream: StreamRef): Promise<number> {
  if ('seq' in since) return since.seq;
  const { seqBefore } = await import('../core/history.js');
  const { historyStore } = await import('./stage-resources.js');
  return seqBefore(await historyStore(ctx), stream, Date.now() - since.seconds * 1000);
}
