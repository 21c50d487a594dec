/**
 * `hermes bench`: open listeners over rooms, publish through the queue, and report connect
 * rate, publish-to-receive latency, delivered frames per second, and lost and duplicated
 * frames. Against the local stack by default: the running `hermes dev` if there is one, else a
 * stack started in this process; against a deployed stage with --stage. On a stack it starts
 * itself it also meters what the run used and prices it (dollars per million notifications and
 * connects; --prices overrides the price table).
 */
import type { Register } from '../runner.js';
import type { CliContext } from '../context.js';
import type { CommandResult } from '../runner.js';

interface BenchFlags {
  rooms: string;
  listeners: string;
  messages: string;
  rate?: string;
  payload: string;
  connectConcurrency: string;
  drainTimeout: string;
  shardSize?: string;
  fanoutConcurrency?: string;
  pollers?: string;
  prices?: string;
}

const MAX_LISTENERS = 20_000;

async function bench(ctx: CliContext, flags: BenchFlags): Promise<CommandResult> {
  const { parseIntFlag, parseDuration } = await import('../../config/parse.js');
  const { UsageError } = await import('../../core/errors.js');
  const { runBench } = await import('../../bench/bench.js');
  const { hermesTarget } = await import('../../bench/target.js');
  const { formatReport, formatCost } = await import('../../bench/format.js');
  const { PRICES, withOverrides } = await import('../../bench/prices.js');
  const { runCost } = await import('../../bench/cost.js');

  const listeners = parseIntFlag('--listeners', flags.listeners, 1, MAX_LISTENERS);
  const rooms = parseIntFlag('--rooms', flags.rooms, 1, listeners);
  const messages = parseIntFlag('--messages', flags.messages, 1, 1_000_000);
  const rate = flags.rate === undefined ? undefined : parseIntFlag('--rate', flags.rate, 1, 100_000);
  const payload = parseIntFlag('--payload', flags.payload, 0, 120_000);
  const connectConcurrency = parseIntFlag('--connect-concurrency', flags.connectConcurrency, 1, 1000);
  const drainTimeoutMs = parseDuration('--drain-timeout', flags.drainTimeout) * 1000;
  const stackFlags = {
    shardSize: flags.shardSize === undefined ? undefined : parseIntFlag('--shard-size', flags.shardSize, 0, 100_000),
    fanoutConcurrency: flags.fanoutConcurrency === undefined ? undefined : parseIntFlag('--fanout-concurrency', flags.fanoutConcurrency, 1, 1024),
    pollers: flags.pollers === undefined ? undefined : parseIntFlag('--pollers', flags.pollers, 1, 64),
  };
  const { withFlagHint } = await import('../errors.js');
  let prices = PRICES;
  if (flags.prices !== undefined) {
    try {
      prices = withOverrides(PRICES, await readPriceFile(flags.prices));
    } catch (err) {
      throw withFlagHint(err, { prices: `Fix ${flags.prices}, the file given to --prices.` });
    }
  }
  const stackFlagNames = Object.entries(stackFlags).filter(([, v]) => v !== undefined).map(([k]) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);

  const cfg = ctx.config();
  const stage = cfg.stage.value;
  const notes: string[] = [];
  let close = async () => {};
  let target;
  let meter: import('../../local/usage.js').UsageMeter | undefined;
  if (stage === 'local') {
    const { isAlive } = await import('../../local/state.js');
    const { readStageRecord } = await import('../../config/stage-record.js');
    const record = readStageRecord(cfg.stateDir.value, 'local');
    if (record?.pid && isAlive(record.pid) && record.endpoints.websocket) {
      if (stackFlagNames.length) {
        ctx.warn(`${stackFlagNames.join(', ')} ${stackFlagNames.length > 1 ? 'apply' : 'applies'} only to a stack the bench starts itself; the running hermes dev keeps its settings.`);
      }
      ctx.info(`using the running local stack (hermes dev, pid ${record.pid})`);
      target = hermesTarget(`local stack (hermes dev, pid ${record.pid})`, {
        websocketUrl: record.endpoints.websocket,
        ddb: await ctx.ddb(),
        sqs: await ctx.sqs(),
        queueUrl: ctx.requireQueue().queueUrl,
        tokensTable: cfg.names.tokensTable,
        jwtSecret: await ctx.jwtSecret(),
      });
    } else {
      const { startLocalStack } = await import('../../local/stack.js');
      ctx.info('no hermes dev stack is running: starting one in this process (free loopback ports, tables in memory)');
      const stack = await startLocalStack({
        ports: { gateway: 0, dynamodb: 0, sqs: 0 },
        region: cfg.region.value,
        ...stackFlags,
        logger: { info: () => {}, warn: (l) => ctx.warn(String(l)), error: (l) => ctx.warn(String(l)) },
      });
      close = () => stack.close();
      meter = stack.usage;
      target = hermesTarget('local stack (in-process)', {
        websocketUrl: stack.endpoints.websocket,
        ddb: stack.ddb,
        sqs: stack.sqs,
        queueUrl: stack.queues.queueUrl,
        tokensTable: stack.names.tokensTable,
        jwtSecret: stack.jwtSecret,
      });
      notes.push('The stack and the listeners shared one process (one event loop); with `hermes dev` running in another terminal they get one each.');
    }
  } else {
    if (stackFlagNames.length) {
      throw new UsageError(`${stackFlagNames.join(', ')} ${stackFlagNames.length > 1 ? 'apply' : 'applies'} only to the local stack the bench starts itself.`, {
        hint: `For stage "${stage}", set HERMES_SHARD_SIZE / HERMES_FANOUT_CONCURRENCY on its send-message function and redeploy.`,
      });
    }
    const websocketUrl = cfg.endpoints.websocket.value;
    if (!websocketUrl) {
      throw new UsageError(`Stage "${stage}" has no WebSocket URL recorded.`, { hint: `Deploy it with \`hermes deploy --stage ${stage}\`, or set HERMES_WEBSOCKET_URL.` });
    }
    target = hermesTarget(`stage ${stage}`, {
      websocketUrl,
      ddb: await ctx.ddb(),
      sqs: await ctx.sqs(),
      queueUrl: ctx.requireQueue().queueUrl,
      tokensTable: cfg.names.tokensTable,
      jwtSecret: await ctx.jwtSecret(),
    });
  }

  try {
    const report = await runBench(target, {
      rooms,
      listeners,
      messages,
      rate,
      payload,
      connectConcurrency,
      drainTimeoutMs,
      signal: ctx.signal,
      progress: (line) => ctx.info(ctx.c.dim(line)),
      meter,
    });
    report.notes.push(...notes);
    const cost = report.usage && runCost(report.usage, { connects: report.connect.opened, delivered: report.round.frames.received }, prices);
    if (!cost) report.notes.push('Cost is metered only on a stack the bench starts itself (no hermes dev running, no --stage).');
    else if (connectConcurrency > 1) {
      report.notes.push(
        `Connects ran ${connectConcurrency} at a time on one event loop, so each invocation was billed the others' CPU too; --connect-concurrency 1 prices connects as Lambda runs them.`,
      );
    }
    const f = report.round.frames;
    const failed = report.connect.failed > 0 || f.lost > 0 || f.misrouted > 0 || report.round.publishFailed > 0;
    const text = cost ? `${formatReport(report)}\n\n${formatCost(cost)}` : formatReport(report);
    return { data: cost ? { ...report, cost } : report, text, exitCode: failed ? 1 : 0 };
  } finally {
    await close();
  }
}

/** The --prices file: a JSON object of price name to dollars per unit (src/bench/prices.ts). */
async function readPriceFile(file: string): Promise<unknown> {
  const { readFile } = await import('node:fs/promises');
  const { UsageError } = await import('../../core/errors.js');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`Cannot read the price file ${file}: ${(err as Error).message}`, { hint: 'Give --prices a JSON file such as {"apigwMessage": 0.000001}.' });
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(`The price file ${file} is not JSON.`, { hint: 'Give --prices a JSON file such as {"apigwMessage": 0.000001}.' });
  }
}

export const register: Register = (program, action) => {
  program
    .command('bench')
    .description('measure fan-out: connect rate, publish-to-receive latency, frames per second, lost and duplicated frames')
    .option('--rooms <n>', 'rooms to spread the listeners over', '10')
    .option('--listeners <n>', `listener connections to open (at most ${MAX_LISTENERS})`, '100')
    .option('--messages <n>', 'messages to publish, round-robin over the rooms', '100')
    .option('--rate <n>', 'messages per second (default: as fast as the queue takes them)')
    .option('--payload <bytes>', 'bytes of padding in each message', '64')
    .option('--connect-concurrency <n>', 'handshakes in flight at once', '50')
    .option('--drain-timeout <duration>', 'longest wait for frames after the last publish', '60s')
    .option('--shard-size <n>', 'in-process stack only: split rooms larger than this into shards (0 = never)')
    .option('--fanout-concurrency <n>', 'in-process stack only: PostToConnection calls in flight per message')
    .option('--pollers <n>', 'in-process stack only: parallel SQS pollers of the send-message function')
    .option('--prices <file>', 'JSON file of prices (dollars per unit) replacing those of the built-in price table')
    .action(action((ctx, _args, opts) => bench(ctx, opts as unknown as BenchFlags)));
};
