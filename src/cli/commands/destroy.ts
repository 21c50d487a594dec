/**
 * `hermes destroy --stage S --yes`: delete everything deploy made for the stage, in reverse
 * order, and only resources tagged with the stage. Needs --yes without a terminal.
 */
import type { Register } from '../runner.js';
import type { CliContext } from '../context.js';
import type { CommandResult } from '../runner.js';
import type { Aws } from '../../deploy/aws.js';

export async function runDestroy(ctx: CliContext, deps: { aws?: Aws } = {}, flags: { keepLogs?: boolean } = {}): Promise<CommandResult> {
  const started = Date.now();
  const { targetStage } = await import('./deploy.js');
  const cfg = await targetStage(ctx, 'destroy');
  const [{ createAws }, destroyMod, report, records] = await Promise.all([
    import('../../deploy/aws.js'),
    import('../../deploy/destroy.js'),
    import('../../deploy/report.js'),
    import('../../config/stage-record.js'),
  ]);
  const stage = cfg.stage.value;
  const aws =
    deps.aws ??
    (await createAws({ region: cfg.region.value, endpoint: cfg.endpointUrl.value, credentials: await ctx.credentials(), verb: 'Destroy' }));
  try {
    const observed = await destroyMod.observeForDestroy(aws, cfg.names);
    const plan = destroyMod.destroyPlan(aws, cfg.names, observed, flags);
    for (const s of plan.skipped) ctx.warn(`not deleting ${s.kind} ${s.resource}: ${s.changes.join('; ')} (hermes did not make it for this stage).`);
    if (plan.removals.length) {
      const hasTables = plan.removals.some((r) => r.item.kind === 'table');
      await ctx.confirm(
        `destroy stage "${stage}" in ${cfg.region.value}: delete ${plan.removals.length} resources${hasTables ? ', including the tables and their data' : ''}`,
      );
      ctx.info(`Destroying stage ${stage} in ${cfg.region.value}…`);
    }
    const clock = report.elapsed(started, ctx.c);
    const result = await destroyMod.destroy(aws, cfg.names, plan, (item) => ctx.info(clock() + report.progressLine(item, ctx.c)), flags);
    records.removeStageRecord(cfg.stateDir.value, stage);
    return { data: result, text: report.destroyText(result) };
  } finally {
    if (!deps.aws) aws.destroy();
  }
}

export const register: Register = (program, action) => {
  program
    .command('destroy')
    .description('delete every AWS resource deploy made for a stage (tables and their data included)')
    .option('-y, --yes', 'do not ask for confirmation (required without a terminal)')
    .option('--keep-logs', "keep the functions' CloudWatch log groups")
    .addHelpText('after', '\nExample:\n  hermes destroy --stage dev --yes\n')
    .action(action(async (ctx, _args, opts) => runDestroy(ctx, {}, { keepLogs: Boolean(opts.keepLogs) })));
};
