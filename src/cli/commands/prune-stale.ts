/**
 * `hermes prune-stale`: delete connection rows whose client is gone (410 from GetConnection)
 * or that outlived API Gateway's 2-hour limit. The logic is core/prune.ts; this prints it.
 */
import type { Register } from '../runner.js';
import type { CliContext } from '../context.js';

interface PruneFlags {
  dryRun?: boolean;
  minAge?: string;
  concurrency?: string;
}

/** Progress lines only for tables where the wait is noticeable. */
const PROGRESS_FROM_ROWS = 200;

async function prune(ctx: CliContext, flags: PruneFlags) {
  const { pruneStale, DEFAULT_PRUNE_CONCURRENCY, DEFAULT_PRUNE_MIN_AGE_MS } = await import('../../core/prune.js');
  const { parseDuration, parseIntFlag } = await import('../../config/parse.js');
  const { connectionStore } = await import('../stage-resources.js');
  const { plural } = await import('../format.js');
  const { table, humanDuration } = await import('../format.js');
  const minAgeMs = flags.minAge === undefined ? DEFAULT_PRUNE_MIN_AGE_MS : parseDuration('--min-age', flags.minAge) * 1000;
  const concurrency = flags.concurrency === undefined ? DEFAULT_PRUNE_CONCURRENCY : parseIntFlag('--concurrency', flags.concurrency, 1, 256);

  const store = await connectionStore(ctx);
  const management = await ctx.management();
  let lastReport = Date.now();
  const result = await pruneStale(
    { ...store, management },
    {
      dryRun: flags.dryRun,
      minAgeMs,
      concurrency,
      signal: ctx.signal,
      onProgress: (done, total) => {
        if (total < PROGRESS_FROM_ROWS || (done < total && Date.now() - lastReport < 1000)) return;
        lastReport = Date.now();
        ctx.info(ctx.c.dim(`checked ${done}/${total} connections…`));
      },
    },
  );

  const data = {
    ...result,
    startedAt: new Date(result.startedAt).toISOString(),
    removed: result.removed.map((r) => ({ ...r, connectedAt: new Date(r.connectedAt).toISOString() })),
  };
  const c = ctx.c;
  const lines: string[] = [];
  const verb = result.dryRun ? 'Would remove' : 'Removed';
  const tally =
    `scanned ${result.scanned}, ${result.kept} live` +
    (result.skippedYoung ? `, ${result.skippedYoung} younger than ${humanDuration(minAgeMs)} left alone` : '');
  if (result.removed.length === 0) {
    lines.push(`No stale connections (${tally}).`);
  } else {
    lines.push(`${verb} ${plural(result.removed.length, 'stale connection')} (${tally})${result.dryRun ? c.yellow(' — dry run, nothing was deleted') : ''}:`);
    lines.push(table(c, ['CONNECTION', 'ROOM', 'USER', 'WHY'], result.removed.map((r) => [r.connectionId, r.roomId, r.userId, r.why])));
  }
  if (result.errors.length) {
    lines.push('', c.red(`Kept ${plural(result.errors.length, 'row')} that could not be checked or deleted:`));
    lines.push(table(c, ['CONNECTION', 'ROOM', 'USER', 'ERROR'], result.errors.map((e) => [e.connectionId, e.roomId, e.userId, e.error])));
  }
  if (result.interrupted) lines.push(c.yellow('Interrupted: the remaining rows were not checked.'));
  return { data, text: lines.join('\n'), exitCode: result.interrupted ? 130 : result.errors.length ? 1 : 0 };
}

export const register: Register = (program, action) => {
  program
    .command('prune-stale')
    .description('delete connection rows whose client is gone (410 from @connections) or older than the 2 h connection limit')
    .option('--dry-run', 'delete nothing; list what would be deleted')
    .option('--min-age <duration>', 'leave rows younger than this alone: their $connect may still be running (default 1m)')
    .option('--concurrency <n>', 'GetConnection probes in flight, 1-256 (default 16)')
    .action(action((ctx, _args, opts) => prune(ctx, opts as PruneFlags)));
};
