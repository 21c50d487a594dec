/**
 * `hermes deploy --stage S [--dry-run]`: create or update the stage on AWS through the SDK,
 * idempotently. This module stays light; the SDK and src/deploy load inside the action.
 */
import type { Register } from '../runner.js';
import type { CliContext } from '../context.js';
import type { CommandResult } from '../runner.js';
import type { Aws } from '../../deploy/aws.js';
import type { WaitOptions } from '../../deploy/wait.js';

export interface DeployFlags {
  dryRun?: boolean;
  build?: boolean;
}

/** What tests pass in: clients pointed at an emulator, pre-built bundles, short waits. */
export interface DeployDeps {
  aws?: Aws;
  bundleDir?: string;
  wait?: WaitOptions;
}

/** The stage and region deploy and destroy act on, checked before any AWS call. */
export async function targetStage(ctx: CliContext, verb: 'deploy' | 'destroy') {
  const { UsageError } = await import('../../core/errors.js');
  const cfg = ctx.config();
  if (cfg.stage.value === 'local') {
    throw new UsageError(
      cfg.stage.source === 'default'
        ? `hermes ${verb} needs a stage: the default one, "local", is the \`hermes dev\` stack.`
        : `The "local" stage is the \`hermes dev\` stack and cannot be ${verb}ed to AWS.`,
      { hint: `Pass --stage, for example \`hermes ${verb} --stage dev\`.` },
    );
  }
  if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(cfg.region.value)) {
    throw new UsageError(`Invalid region "${cfg.region.value}" (from ${cfg.region.from ?? cfg.region.source}).`, {
      hint: 'Pass a region name such as --region us-east-1 or eu-west-1.',
    });
  }
  return cfg;
}

export async function runDeploy(ctx: CliContext, flags: DeployFlags, deps: DeployDeps = {}): Promise<CommandResult> {
  const cfg = await targetStage(ctx, 'deploy');
  const [{ createAws }, { deploy }, report, records] = await Promise.all([
    import('../../deploy/aws.js'),
    import('../../deploy/deploy.js'),
    import('../../deploy/report.js'),
    import('../../config/stage-record.js'),
  ]);
  const endpoint = cfg.endpointUrl.value;
  const aws =
    deps.aws ?? (await createAws({ region: cfg.region.value, endpoint, credentials: await ctx.credentials(), verb: 'Deploy' }));
  try {
    ctx.info(
      `${flags.dryRun ? 'Planning' : 'Deploying'} stage ${cfg.stage.value} in ${cfg.region.value}${endpoint ? ` (endpoint ${endpoint})` : ''}…`,
    );
    const { stageTunables } = await import('../../config/resolve.js');
    const result = await deploy(aws, {
      names: cfg.names,
      tunables: stageTunables(cfg),
      dryRun: flags.dryRun,
      build: flags.build,
      bundleDir: deps.bundleDir,
      wait: deps.wait ? { ...deps.wait, signal: ctx.signal } : undefined,
      onProgress: (item) => ctx.info(report.progressLine(item, ctx.c)),
    });
    if (result.dryRun) return { data: result, text: report.planText(result, ctx.c) };

    const o = result.outputs!;
    records.protectStateDir(cfg.stateDir.value);
    const recordFile = records.writeStageRecord(cfg.stateDir.value, {
      stage: cfg.stage.value,
      region: cfg.region.value,
      // With --endpoint-url (an emulator), later commands must talk to it too.
      endpoints: { websocket: o.websocketUrl, management: o.managementEndpoint, ...(endpoint ? { dynamodb: endpoint, sqs: endpoint } : {}) },
      queueUrl: o.queueUrl,
      dlqUrl: o.dlqUrl,
      secretLocation: o.secretLocation,
      deployedAt: new Date().toISOString(),
    });
    return { data: { ...result, stageRecord: recordFile }, text: report.deployText(result, recordFile) };
  } finally {
    if (!deps.aws) aws.destroy();
  }
}

export const register: Register = (program, action) => {
  program
    .command('deploy')
    .description('create or update a stage on AWS (tables, queues, roles, functions, WebSocket API); idempotent')
    .option('--dry-run', 'print the plan (create, update or unchanged per resource) and change nothing')
    .option('--no-build', 'upload the bundles already in dist/lambdas instead of rebuilding them')
    .addHelpText('after', '\nExample:\n  hermes deploy --stage dev --region eu-west-1 --dry-run\n')
    .action(action(async (ctx, _args, opts) => runDeploy(ctx, { dryRun: Boolean(opts.dryRun), build: opts.build !== false })));
};
