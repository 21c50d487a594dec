/**
 * `hermes status`: one screen on a stage: where it runs, how deep its queues are, who is
 * connected, how many tokens are live. When nothing runs there: an error saying so, exit 1.
 */
import type { Register } from '../runner.js';
import type { CliContext } from '../context.js';

const TOP_ROOMS = 10;
async function status(ctx: CliContext) {
  const { StackNotRunningError, unreachableCode } = await import('../../core/errors.js');
  const { readStageRecord } = await import('../../config/stage-record.js');
  const { queueDepth } = await import('../../core/dlq.js');
  const { listConnections } = await import('../../core/connections.js');
  const { listTokens } = await import('../../core/tokens.js');
  const { requireQueues, connectionStore } = await import('../stage-resources.js');
  const { queueName, plural } = await import('../format.js');
  const { humanDuration } = await import('../format.js');
  const { hermesCommand } = await import('../../config/invocation.js');
  const cfg = ctx.config();
  const stage = cfg.stage.value;
  const region = cfg.region.value;
  // Nothing running there is a failure like any other: the reason on stderr (an error object
  // on stdout with --json) and exit 1.
  const notRunning = (reason: string, hint: string) => new StackNotRunningError(reason, { hint });
  const startHint = stage === 'local' ? 'Start it with `hermes dev`.' : `Deploy it with \`hermes deploy --stage ${stage}\`.`;

  const record = readStageRecord(cfg.stateDir.value, stage);
  if (record?.pid !== undefined) {
    const { isAlive } = await import('../../local/state.js');
    if (!isAlive(record.pid)) throw notRunning(`The ${stage === 'local' ? 'local stack' : `stage "${stage}"`} is not running (its process ${record.pid} has exited).`, startHint);
  }

  let gathered;
  try {
    const { queueUrl, dlqUrl } = requireQueues(ctx);
    const sqs = await ctx.sqs();
    const store = await connectionStore(ctx);
    const [queue, deadLetters, rows, tokens] = await Promise.all([
      queueDepth(sqs, queueUrl),
      queueDepth(sqs, dlqUrl),
      listConnections(store),
      listTokens({ ddb: store.ddb, table: cfg.names.tokensTable }),
    ]);
    gathered = { queueUrl, dlqUrl, queue, deadLetters, rows, liveTokens: tokens.length };
  } catch (err) {
    if (err instanceof StackNotRunningError) throw notRunning(err.message, startHint);
    // A stack whose record outlived it: its endpoints refuse connections.
    const code = unreachableCode(err);
    if (code) throw notRunning(`The ${stage === 'local' ? 'local stack' : `stage "${stage}"`} does not answer (${code}).`, startHint);
    throw err;
  }

  const counts = new Map<string, number>();
  for (const r of gathered.rows) counts.set(r.room_id, (counts.get(r.room_id) ?? 0) + 1);
  const top = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, TOP_ROOMS);
  const endpoints = Object.fromEntries(Object.entries(cfg.endpoints).filter(([, v]) => v.value !== undefined).map(([k, v]) => [k, v.value as string]));
  const data = {
    stage,
    region,
    running: true,
    local: cfg.local,
    ...(record?.pid !== undefined ? { pid: record.pid } : {}),
    ...(record?.startedAt ? { startedAt: record.startedAt } : {}),
    endpoints,
    queue: { name: queueName(gathered.queueUrl), url: gathered.queueUrl, ...gathered.queue },
    deadLetters: { name: queueName(gathered.dlqUrl), url: gathered.dlqUrl, ...gathered.deadLetters },
    connections: { total: gathered.rows.length, rooms: counts.size, topRooms: Object.fromEntries(top) },
    tokens: { live: gathered.liveTokens },
  };

  const c = ctx.c;
  const up = record?.startedAt ? `, up ${humanDuration(Date.now() - Date.parse(record.startedAt))}` : '';
  const depth = (d: { visible: number; inFlight: number; delayed: number }) =>
    `${d.visible} waiting, ${d.inFlight} in flight${d.delayed ? `, ${d.delayed} delayed` : ''}`;
  const row = (label: string, value: string) => `  ${label.padEnd(13)} ${value}`;
  const dl = data.deadLetters;
  const lines = [
    `${c.bold(`stage ${stage}`)} in ${region}: ${c.green('running')}${record?.pid !== undefined ? c.dim(` (pid ${record.pid}${up})`) : ''}`,
    ...(endpoints.websocket ? [row('WebSocket', endpoints.websocket)] : []),
    ...(endpoints.management ? [row('@connections', endpoints.management)] : []),
    ...(endpoints.dynamodb ? [row('DynamoDB', endpoints.dynamodb)] : []),
    ...(endpoints.sqs ? [row('SQS', endpoints.sqs)] : []),
    row('Queue', `${data.queue.name}: ${depth(data.queue)}`),
    row('Dead letters', `${dl.name}: ${dl.visible + dl.inFlight > 0 ? c.yellow(depth(dl)) + c.dim(`  (${hermesCommand(ctx.io.env)} dlq list)`) : depth(dl)}`),
    row(
      'Connections',
      data.connections.total === 0
        ? 'none'
        : `${data.connections.total} in ${plural(counts.size, 'room')}: ${top.map(([r, n]) => `${r} ${n}`).join(', ')}${counts.size > TOP_ROOMS ? c.dim(` (top ${TOP_ROOMS})`) : ''}`,
    ),
    row('Live tokens', String(data.tokens.live)),
  ];
  return { data, text: lines.join('\n') };
}

export const register: Register = (program, action) => {
  program
    .command('status')
    .description('one screen on the stage: endpoints, queue and dead-letter depth, connections per room, live tokens')
    .action(action((ctx) => status(ctx)));
};
