/**
 * `hermes dev`: the whole notification system on this machine, no AWS account, no Docker.
 * Ports default to the ecosystem's usual ones (gateway 3001, DynamoDB 8000, SQS 9324); each,
 * and the host, resolves like every setting (src/config/dev-settings.ts), 0 for any free port.
 */
import type { Register } from '../runner.js';
import type { CliContext } from '../context.js';
import path from 'node:path';
import { DEFAULT_HOST, DEFAULT_PORTS, resolveDevSettings, type DevFlags } from '../../config/dev-settings.js';

interface DevOptions extends DevFlags {
  ephemeral?: boolean;
  idleTimeout?: string;
  maxLifetime?: string;
  batchSize?: string;
  verbose?: boolean;
  /** --no-watch sets it false. */
  watch?: boolean;
}

async function dev(ctx: CliContext, opts: DevOptions) {
  const { parseDuration, parseIntFlag } = await import('../../config/parse.js');
  const { startLocalStack } = await import('../../local/stack.js');
  const { stageTunables } = await import('../../config/resolve.js');
  const state = await import('../../local/state.js');
  const records = await import('../../config/stage-record.js');
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
  // Serve the code as it is now: rebuild the bundles when a source is newer than them.
  const { projectRoot, defaultBundleDir } = await import('../../deploy/bundle.js');
  const bundles = await import('../../local/bundle-watch.js');
  const root = projectRoot();
  const bundleDir = defaultBundleDir(root);
  const build = await bundles.projectBuild(root);
  let rebuilt: string[] | undefined;
  if (build) {
    const stale = build.staleSources(bundleDir);
    if (stale.length) {
      say(`${bundles.describeSources(stale)} changed since the last build: rebuilding the handlers…`);
      const outcome = await build.buildLambdas(bundleDir);
      if (outcome.errors !== undefined) {
        say(ctx.c.red(`the handlers do not build; serving the bundles of the last good build:\n${outcome.errors}`));
      } else {
        if (outcome.warnings) say(ctx.c.yellow(outcome.warnings));
        say(`rebuilt the handlers in ${outcome.ms} ms`);
        rebuilt = stale;
      }
    }
  }
  const watching = Boolean(build) && opts.watch !== false;

  // The demo page and its token endpoint ride on the gateway's port; they need the stack,
  // which exists only once started, so the handler reads it through this holder.
  const { createDemoHandler } = await import('../../local/demo.js');
  let demoStack: import('../../local/demo.js').DemoStack | undefined;
  // Commands shown to the user (the banner, the demo page) are ones their shell can run.
  const { hermesCommand } = await import('../../config/invocation.js');
  const hermes = hermesCommand(ctx.io.env);
  const httpHandler = createDemoHandler(() => demoStack, {
    bcryptCost: cfg.bcryptCost.value,
    command: hermes,
    onToken: (t) => opts.verbose && say(`demo token for ${t.userId} in room ${t.roomId}`),
  });
  const [{ createLogWriter, handlerLogFile }, logLines] = await Promise.all([import('../../local/log-file.js'), import('../../local/handler-log-lines.js')]);
  const writeLog = createLogWriter(handlerLogFile(stateDir));
  const stack = await startLocalStack({
    httpHandler,
    host,
    ports,
    dataDir: opts.ephemeral ? undefined : path.join(stateDir, 'data'),
    bundleDir,
    region: cfg.region.value,
    parameterFile: opts.ephemeral ? undefined : state.localParameterFile(stateDir),
    idleTimeoutMs,
    maxLifetimeMs,
    batchSize,
    settings: cfg.settings,
    // Every raw handler line is kept for `hermes logs`; each queue delivery is shown.
    onHandlerLine: (h, line) => {
      writeLog(line);
      const delivery = logLines.deliveryLine(h, line);
      if (delivery && !opts.verbose) say(delivery);
    },
    tunables: stageTunables(cfg),
    logger: {
      info: (l) => opts.verbose && say(String(l)),
      warn: (l) => say(ctx.c.yellow(String(l))),
      error: (l) => say(ctx.c.red(String(l))),
    },
    gatewayLog: (l) => say(l),
  });
  demoStack = stack;
  const onReload = (e: import('../../local/bundle-watch.js').ReloadEvent) => {
    const c = ctx.c;
    if (e.kind === 'reloaded') {
      if (e.warnings) say(c.yellow(e.warnings));
      say(`${c.green('reloaded')} ${e.handlers.join(', ')} (built in ${e.buildMs} ms, loaded in ${e.reloadMs} ms): the next invocation runs the new code`);
      if (ctx.json) ctx.out(JSON.stringify({ status: 'reloaded', handlers: e.handlers, buildMs: e.buildMs, reloadMs: e.reloadMs }));
    } else if (e.kind === 'failed') {
      say(`${c.red('build failed')}, the previous code keeps serving:\n${e.errors}`);
      if (ctx.json) ctx.out(JSON.stringify({ status: 'build-failed', errors: e.errors }));
    } else {
      say(`${c.red('reload failed')} for ${e.handler}, the previous code keeps serving: ${e.message}`);
      if (ctx.json) ctx.out(JSON.stringify({ status: 'reload-failed', handler: e.handler, message: e.message }));
    }
  };
  let stopWatching: (() => Promise<void>) | undefined;
  if (watching) {
    try {
      stopWatching = await bundles.watchAndReload(build!, bundleDir, stack.functions, onReload);
    } catch (err) {
      // The watcher reads the stage definition to know what to build; if that does not build,
      // the stack still serves, without reloading.
      say(ctx.c.yellow(`not watching the sources: ${(err as Error).message}`));
    }
  }
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
    bundles: bundleDir,
    watching: stopWatching !== undefined,
    ...(rebuilt ? { rebuilt } : {}),
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
        `  Handlers      ${shortPath(ctx.io.cwd, bundleDir)}${ready.watching ? c.dim(' (rebuilt and reloaded on save; --no-watch to stop)') : ''}`,
        '',
        `  Try: ${c.bold(`${hermes} listen --room demo`)}   and in another terminal:   ${c.bold(`${hermes} publish --room demo "hello"`)}`,
        ...(hermes === 'hermes' ? [] : [c.dim('  (hermes is not on your PATH: `npm link` in this clone puts it there, and saves npx\'s second per call)')]),
        c.dim('  Ctrl-C stops the stack.'),
      ].join('\n'),
    );
  }

  await new Promise<void>((resolve) => {
    if (ctx.signal.aborted) return resolve();
    ctx.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  say('shutting down…');
  await stopWatching?.();
  await stack.close();
  records.removeStageRecord(stateDir, 'local', process.pid);
  say('stopped.');
  // A stream's last line, compact like the ready line (NDJSON), not the runner's pretty result.
  if (ctx.json) ctx.out(JSON.stringify({ status: 'stopped' }));
  return { exitCode: 0 };
}

/** A path relative to the working directory when it is inside it, else absolute. */
function shortPath(cwd: string, file: string): string {
  const rel = path.relative(cwd, file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
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
    .option('--no-watch', 'do not rebuild and reload the handlers when their sources change')
    .action(action((ctx, _args, opts) => dev(ctx, opts as DevOptions)));
};
