/**
 * `hermes logs [--stage S] [--function NAME] [--since 10m] [--follow] [--json]`: the handlers'
 * log lines, merged in time order: from CloudWatch Logs for a deployed stage (the log groups
 * deploy made), from the running `hermes dev`'s log file for the local stage. With --json, one
 * object a line (NDJSON). This module stays light: the SDK loads inside the action.
 */
import type { Register } from '../runner.js';
import type { CliContext } from '../context.js';
import type { CommandResult } from '../runner.js';
import type { LogEntry } from '../log-entries.js';

interface LogsFlags {
  function?: string;
  since?: string;
  follow?: boolean;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

async function runLogs(ctx: CliContext, flags: LogsFlags): Promise<CommandResult> {
  const [{ parseDuration }, { UsageError, StackNotRunningError }, { HANDLER_NAMES }, entries] = await Promise.all([
    import('../../config/parse.js'),
    import('../../core/errors.js'),
    import('../../stack/definition.js'),
    import('../log-entries.js'),
  ]);
  const cfg = ctx.config();
  const names = cfg.names;
  if (flags.function !== undefined && !(HANDLER_NAMES as readonly string[]).includes(flags.function)) {
    throw new UsageError(`Invalid --function value: "${flags.function}".`, { hint: `Use one of ${HANDLER_NAMES.join(', ')}.` });
  }
  const handlers = flags.function ? [flags.function as (typeof HANDLER_NAMES)[number]] : [...HANDLER_NAMES];
  const since = Date.now() - parseDuration('--since', flags.since ?? '10m') * 1000;
  let shown = 0;
  const show = (list: LogEntry[]) => {
    for (const e of list.sort((a, b) => a.time - b.time)) {
      if (!handlers.includes(e.function as never)) continue;
      ctx.out(ctx.json ? JSON.stringify(entries.entryJson(e)) : entries.formatEntry(e, ctx.c));
      shown++;
    }
  };
  const done = (): CommandResult => {
    if (!shown && !ctx.json) ctx.info(`No handler log lines for stage ${cfg.stage.value} since ${new Date(since).toISOString()}.`);
    return {};
  };

  if (cfg.stage.value === 'local') {
    const { handlerLogFile, readLogLines } = await import('../../local/log-file.js');
    const { existsSync } = await import('node:fs');
    const file = handlerLogFile(cfg.stateDir.value);
    if (!existsSync(file)) {
      throw new StackNotRunningError(`No local handler logs in ${file}: they are kept while \`hermes dev\` runs with this state dir.`, {
        hint: 'Start the local stack with `hermes dev` (or pass --stage for a deployed stage).',
      });
    }
    let offset = 0;
    do {
      const read = readLogLines(file, offset);
      offset = read.offset;
      show(read.lines.map((l) => entries.toEntry(names, HANDLER_NAMES, l, {})).filter((e): e is LogEntry => Boolean(e && e.time >= since)));
      if (flags.follow) await sleep(500, ctx.signal);
    } while (flags.follow && !ctx.signal.aborted);
    return done();
  }

  const [{ CloudWatchLogsClient, FilterLogEventsCommand }, { defaultCredentials }] = await Promise.all([
    import('@aws-sdk/client-cloudwatch-logs'),
    import('../../core/clients.js'),
  ]);
  const endpoint = cfg.endpointUrl.value;
  const credentials = (await ctx.credentials()) ?? defaultCredentials(endpoint);
  const logs = new CloudWatchLogsClient({ region: cfg.region.value, ...(endpoint ? { endpoint } : {}), ...(credentials ? { credentials } : {}) });
  const seen = new Set<string>();
  let from = since;
  try {
    do {
      const batch: LogEntry[] = [];
      for (const h of handlers) {
        let nextToken: string | undefined;
        do {
          let page;
          try {
            page = await logs.send(new FilterLogEventsCommand({ logGroupName: names.logGroup(h), startTime: from, nextToken }), { abortSignal: ctx.signal });
          } catch (err) {
            if ((err as Error).name === 'ResourceNotFoundException') break; // never deployed, or deleted since
            if (ctx.signal.aborted) return done();
            throw err;
          }
          for (const ev of page.events ?? []) {
            const id = ev.eventId ?? `${ev.logStreamName}/${ev.timestamp}/${ev.message}`;
            if (seen.has(id)) continue;
            seen.add(id);
            const e = entries.toEntry(names, HANDLER_NAMES, ev.message ?? '', { fn: names.fn(h), time: ev.timestamp });
            if (e) batch.push({ ...e, function: h });
          }
          nextToken = page.nextToken;
        } while (nextToken);
      }
      show(batch);
      // The next poll starts at the newest line seen; the ids drop what it repeats.
      if (batch.length) from = Math.max(...batch.map((e) => e.time));
      if (flags.follow) await sleep(2000, ctx.signal);
    } while (flags.follow && !ctx.signal.aborted);
  } finally {
    logs.destroy();
  }
  return done();
}

export const register: Register = (program, action) => {
  program
    .command('logs')
    .description("the handlers' log lines, merged in time order (CloudWatch Logs for a deployed stage, the running hermes dev for local)")
    .option('--function <name>', 'one handler only (authorizer, connect, send-message, …)')
    .option('--since <duration>', 'how far back, e.g. 30s, 10m, 2h (default 10m)')
    .option('-f, --follow', 'keep printing new lines until interrupted')
    .addHelpText('after', '\nExamples:\n  hermes logs --since 1m\n  hermes logs --stage prod --function send-message --follow --json\n')
    .action(action((ctx, _args, opts) => runLogs(ctx, { function: opts.function as string | undefined, since: opts.since as string | undefined, follow: Boolean(opts.follow) })));
};
