/**
 * `hermes dlq list|redrive|purge`: the dead-letter queue. Listing consumes nothing; redrive
 * moves the dead letters back to the main queue; purge deletes them (after confirmation).
 * The logic is core/dlq.ts.
 */
import type { Register } from '../runner.js';
import type { CliContext } from '../context.js';

const BODY_CHARS = 200;

async function list(ctx: CliContext, flags: { limit?: string }) {
  const { parseIntFlag } = await import('../../config/parse.js');
  const { peekDeadLetters, maxReceiveCountOf, queueDepth } = await import('../../core/dlq.js');
  const { requireQueues } = await import('../stage-resources.js');
  const { queueName, oneLine, plural } = await import('../format.js');
  const { utcSeconds } = await import('../format.js');
  const limit = flags.limit === undefined ? 10 : parseIntFlag('--limit', flags.limit, 1, 1000);
  const { queueUrl, dlqUrl } = requireQueues(ctx);
  const sqs = await ctx.sqs();

  const [depth, maxReceiveCount] = await Promise.all([queueDepth(sqs, dlqUrl), maxReceiveCountOf(sqs, queueUrl)]);
  const { messages, notRestored } = await peekDeadLetters({ sqs, dlqUrl }, { limit, maxReceiveCount, expected: depth.visible });
  if (notRestored.length) {
    ctx.warn(`${plural(notRestored.length, 'dead letter')} could not be made visible again at once; SQS shows ${notRestored.length === 1 ? 'it' : 'them'} again within 30 s.`);
  }
  const total = Math.max(depth.visible, messages.length);
  const data = { queueUrl: dlqUrl, total, shown: messages.length, messages, ...(notRestored.length ? { notRestored } : {}) };
  if (messages.length === 0) return { data, text: `No dead letters in ${queueName(dlqUrl)}.` };

  const c = ctx.c;
  const lines = [`${plural(total, 'dead letter')} in ${queueName(dlqUrl)}${messages.length < total ? ` (showing ${messages.length}; --limit for more)` : ''}:`];
  for (const m of messages) {
    const sent = m.sentAt ? utcSeconds(Date.parse(m.sentAt) / 1000) : 'unknown';
    lines.push(
      '',
      `${c.bold(m.messageId)}  ${c.dim(`sent ${sent}, received ${m.receiveCount}×`)}`,
      `  why:  ${(m.origin === 'hermes' ? c.red : m.origin === 'redrive' ? c.yellow : c.dim)(oneLine(m.reason, BODY_CHARS))}`,
      `  body: ${oneLine(m.body, BODY_CHARS)}`,
    );
  }
  return { data, text: lines.join('\n') };
}

async function redrive(ctx: CliContext, flags: { copy?: boolean }) {
  const { redriveDeadLetters } = await import('../../core/dlq.js');
  const { requireQueues } = await import('../stage-resources.js');
  const { queueName, plural } = await import('../format.js');
  const { queueUrl, dlqUrl } = requireQueues(ctx);
  const sqs = await ctx.sqs();
  let lastReport = Date.now();
  const result = await redriveDeadLetters(
    { sqs, dlqUrl, queueUrl },
    {
      copy: flags.copy,
      signal: ctx.signal,
      onProgress: (moved, total) => {
        if (Date.now() - lastReport < 2000) return;
        lastReport = Date.now();
        ctx.info(ctx.c.dim(`moved ${moved}/${total}…`));
      },
    },
  );
  const how = result.method === 'move-task' ? 'SQS message move task' : 'received, sent back, deleted';
  const lines: string[] = [];
  let exitCode = 0;
  if (result.total === 0) {
    lines.push(`No dead letters in ${queueName(dlqUrl)}; nothing to move.`);
  } else if (result.status === 'RUNNING') {
    lines.push(`Stopped waiting with ${result.moved} of ${result.total} moved; the SQS move task carries on by itself.`);
    exitCode = 130;
  } else if (result.status === 'CANCELLED') {
    lines.push(
      result.method === 'copy'
        ? `Interrupted with ${result.moved} of ${result.total} moved back to ${queueName(queueUrl)}.`
        : ctx.c.yellow(`The move task was cancelled after moving ${result.moved} of ${result.total}.`),
    );
    exitCode = result.method === 'copy' ? 130 : 1;
  } else if (result.status === 'FAILED') {
    lines.push(ctx.c.red(`The move task failed after moving ${result.moved} of ${result.total}: ${result.failureReason ?? 'no reason given'}.`));
    exitCode = 1;
  } else {
    lines.push(`Moved ${plural(result.moved, 'dead letter')} back to ${queueName(queueUrl)} (${how}).`);
    lines.push(ctx.c.dim('Messages that can never be delivered (not JSON, no room) come back to the dead-letter queue with their reason.'));
  }
  if (result.failed.length) {
    lines.push(ctx.c.red(`${plural(result.failed.length, 'message')} stayed in the dead-letter queue:`));
    for (const f of result.failed) lines.push(`  ${f.messageId}: ${f.error}`);
    exitCode ||= 1;
  }
  return { data: result, text: lines.join('\n'), exitCode };
}

async function purge(ctx: CliContext) {
  const { purgeDeadLetters, queueDepth } = await import('../../core/dlq.js');
  const { requireQueues } = await import('../stage-resources.js');
  const { queueName, plural } = await import('../format.js');
  const { dlqUrl } = requireQueues(ctx);
  const sqs = await ctx.sqs();
  const name = queueName(dlqUrl);
  const depth = await queueDepth(sqs, dlqUrl);
  if (depth.visible === 0) {
    const busy = depth.inFlight ? ` (${depth.inFlight} in flight: someone is looking at them; try again shortly)` : '';
    return { data: { queueUrl: dlqUrl, purged: 0, inFlight: depth.inFlight, failed: [] }, text: `No dead letters in ${name}; nothing to purge${busy}.` };
  }
  await ctx.confirm(`delete ${depth.visible === 1 ? 'the 1 dead letter' : `all ${depth.visible} dead letters`} in ${name} for good`);
  const result = await purgeDeadLetters({ sqs, dlqUrl }, { signal: ctx.signal });
  const lines = [`Purged ${plural(result.purged, 'dead letter')} from ${name}.`];
  if (result.inFlight) lines.push(ctx.c.yellow(`${plural(result.inFlight, 'dead letter')} in flight (being looked at) ${result.inFlight === 1 ? 'was' : 'were'} left; run it again shortly.`));
  if (result.failed.length) {
    lines.push(ctx.c.red(`${plural(result.failed.length, 'dead letter')} could not be deleted:`));
    for (const f of result.failed) lines.push(`  ${f.messageId}: ${f.error}`);
  }
  return { data: { queueUrl: dlqUrl, ...result }, text: lines.join('\n'), exitCode: result.failed.length ? 1 : 0 };
}

export const register: Register = (program, action) => {
  const dlq = program.command('dlq').description('inspect, redrive or purge the dead-letter queue');
  dlq
    .command('list')
    .description('show dead letters (id, receives, sent time, why, body) without consuming them')
    .option('--limit <n>', 'show at most this many, 1-1000 (default 10)')
    .action(action((ctx, _args, opts) => list(ctx, opts as { limit?: string })));
  dlq
    .command('redrive')
    .description('move every dead letter back to the main queue to be delivered again')
    .option('--copy', 'receive, send back and delete one by one instead of using an SQS message move task')
    .action(action((ctx, _args, opts) => redrive(ctx, opts as { copy?: boolean })));
  dlq
    .command('purge')
    .description('delete every dead letter (asks first)')
    .option('-y, --yes', 'do not ask; required when no one is at the keyboard')
    .action(action((ctx) => purge(ctx)));
};
