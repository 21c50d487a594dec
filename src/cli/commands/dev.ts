/**
 * `hermes dev`: the whole notification system on this machine, no AWS account, no Docker.
 * Ports default to the ecosystem's usual ones (gateway 3001, DynamoDB 8000, SQS 9324); each,
 * and the host, resolves like every setting (src/config/dev-settings.ts), 0 for any free port.
 */
import type { Register } from '../runner.js';
import type { CliContext } from '../context.js';
import { DEFAULT_HOST, DEFAULT_PORTS, resolveDevSettings, type DevFlags } from '../../config/dev-settings.js';

interface DevOptions extends DevFlags {
  ephemeral?: boolean;
  idleTimeout?: string;
  maxLifetime?: string;
  batchSize?: string;
  verbose?: boolean;
}

async function dev(ctx: CliContext, opts: DevOptions) {
  const { parseDuration, parseIntFlag } = await import('../../config/parse.js');
  const { startLocalStack } = await import('../../local/stack.js');
  const state = await import('../../local/state.js');
  const records = await import('../../config/stage-record.js');
  const path = await import('node:path');
  const cfg = ctx.config();
  if (cfg.stage.value !== 'local') {
    const { UsageError } = await import('../../core/errors.js');
    throw new UsageError(`hermes dev runs the "local" stage only, not "${cfg.stage.value}".`, {
      hint: 'Drop --stage (or HERMES_STAGE); to run a second local stack, pass another --state-dir.',
    });
  }
  const settings = resolveDevSettings(opts, ctx.io.env, ctx.io.cwd);
  const ports = { gateway: settings.port.value, dynamodb: settings.dynamodbPort.value, sqs: settings.sqsPort.value };
  const host = settings.host.value;
  const idleTimeoutMs = opts.idleTimeout ? parseDuration('--idle-timeout', opts.idleTimeout) * 1000 : undefined;
  const maxLifetimeMs = opts.maxLifetime ? parseDuration('--max-lifetime', opts.maxLifetime) * 1000 : undefined;
  const batchSize = opts.batchSize ? parseIntFlag('--batch-size', opts.batchSize, 1, 10) : undefined;
  const stateDir = cfg.stateDir.value;

  const stale = await state.assertNotRunning(stateDir, 'local');
  if (stale) ctx.warn(stale);
  records.protectStateDir(stateDir);
  // Files the stack creates from now on (LevelDB's tables, the queues) are the owner's alone.
  process.umask(0o077);
  state.privateStateDir(stateDir);
  const started = Date.now();
  const stamp = () => ctx.c.dim(new Date().toISOString().slice(11, 23));
  const say = (line: string) => ctx.info(`${stamp()} ${line}`);
  // The demo page and its token endpoint ride on the gateway's port; they need the stack,
  // which exists only once started, so the handler reads it through this holder.
  const { createDemoHandler } = await import('../../local/demo.js');
  let demoStack: import('../../local/demo.js').DemoStack | undefined;
  const httpHandler = createDemoHandler(() => demoStack, {
    bcryptCost: cfg.bcryptCost.value,
    onToken: (t) => opts.verbose && say(`demo token for ${t.userId} in room ${t.roomId}`),
  });
  const stack = await startLocalStack({
    httpHandler,
    host,
    ports,
    dataDir: opts.ephemeral ? undefined : path.join(stateDir, 'data'),
    region: cfg.region.value,
    jwtSecret: opts.ephemeral ? undefined : state.localJwtSecret(stateDir),
    idleTimeoutMs,
    maxLifetimeMs,
    batchSize,
    logger: {
      info: (l) => opts.verbose && say(String(l)),
      warn: (l) => say(ctx.c.yellow(String(l))),
      error: (l) => say(ctx.c.red(String(l))),
    },
    gatewayLog: (l) => say(l),
  });
  demoStack = stack;
  const recordFile = records.writeStageRecord(stateDir, state.localStageRecord(stack, { ephemeral: Boolean(opts.ephemeral) }));
  const ready = {
    status: 'ready',
    stage: 'local',
    websocket: stack.endpoints.websocket,
    management: stack.endpoints.management,
    dynamodb: stack.endpoints.dynamodb,
    sqs: stack.endpoints.sqs,
    queueUrl: stack.queues.queueUrl,
    dlqUrl: stack.queues.dlqUrl,
    demo: `http://${host}:${stack.gateway.port}/`,
    stateFile: recordFile,
    pid: process.pid,
    restoredMessages: stack.restoredMessages,
    startupMs: Date.now() - started,
  };
  if (ctx.json) {
    ctx.out(JSON.stringify(ready));
  } else {
    const c = ctx.c;
    ctx.out(
      [
        `${c.green('hermes dev')} is ready in ${ready.startupMs} ms (${opts.ephemeral ? 'in memory' : `data in ${path.relative(ctx.io.cwd, stateDir) || stateDir}`}${stack.restoredMessages ? `, ${stack.restoredMessages} queued messages restored` : ''})`,
        `  Demo page     ${c.cyan(ready.demo)}`,
        `  WebSocket     ${c.cyan(ready.websocket)}?token=…`,
        `  @connections  ${ready.management}`,
        `  SQS queue     ${ready.queueUrl}`,
        `  DynamoDB      ${ready.dynamodb}`,
        `  SQS           ${ready.sqs}`,
        '',
        `  Try: ${c.bold('hermes listen --room demo')}   and in another terminal:   ${c.bold('hermes publish --room demo "hello"')}`,
        c.dim('  Ctrl-C stops the stack.'),
      ].join('\n'),
    );
  }

  await new Promise<void>((resolve) => {
    if (ctx.signal.aborted) return resolve();
    ctx.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  say('shutting down…');
  await stack.close();
  records.removeStageRecord(stateDir, 'local', process.pid);
  say('stopped.');
  // A stream's last line, compact like the ready line (NDJSON), not the runner's pretty result.
  if (ctx.json) ctx.out(JSON.stringify({ status: 'stopped' }));
  return { exitCode: 0 };
}

export const register: Register = (program, action) => {
  program
    .command('dev')
    .description('run the whole stack on this machine: WebSocket gateway, queue, tables and the Lambda handlers')
    .option('--port <port>', `WebSocket gateway and @connections port (env HERMES_PORT, config dev.port; default ${DEFAULT_PORTS.gateway}; 0 = any free port)`)
    .option('--dynamodb-port <port>', `DynamoDB port (env HERMES_DYNAMODB_PORT, config dev.dynamodbPort; default ${DEFAULT_PORTS.dynamodb})`)
    .option('--sqs-port <port>', `SQS port (env HERMES_SQS_PORT, config dev.sqsPort; default ${DEFAULT_PORTS.sqs})`)
    .option('--host <host>', `address to listen on (env HERMES_HOST, config dev.host; default ${DEFAULT_HOST})`)
    .option('--ephemeral', 'keep the tables and queues in memory instead of under the state dir')
    .option('--idle-timeout <duration>', 'close idle connections after this long (default 10m, as API Gateway)')
    .option('--max-lifetime <duration>', 'close every connection after this long (default 2h, as API Gateway)')
    .option('--batch-size <n>', 'SQS records per send-message invocation, 1-10 (default 10)')
    .option('--verbose', 'also print the handlers\' info logs')
    .action(action((ctx, _args, opts) => dev(ctx, opts as DevOptions)));
};
