/**
 * `hermes secret rotate --stage S [--grace 2h]` and `hermes secret show`: the stage's signing
 * keys in its SSM parameter (docs/tokens.md), the same for a deployed stage and for the local
 * stack. Key ids only; a key is never printed. This module stays light: the work is in
 * config/signing-keys.ts, loaded inside the actions.
 */
import type { Register } from '../runner.js';
import type { CliContext } from '../context.js';
import type { CommandResult } from '../runner.js';

/** Tokens live an hour by default: the previous key verifies that long and as long again. */
export const DEFAULT_GRACE = '2h';

async function rotate(ctx: CliContext, opts: { grace?: string }): Promise<CommandResult> {
  const [{ parseDuration }, { rotateStageKeys }, { DEFAULT_KEY_CACHE_SECONDS }] = await Promise.all([
    import('../../config/parse.js'),
    import('../../config/signing-keys.js'),
    import('../../core/handler-env.js'),
  ]);
  const grace = Math.round(parseDuration('--grace', opts.grace ?? DEFAULT_GRACE));
  const r = await rotateStageKeys(ctx.config(), ctx.credentials, grace);
  const until = grace === 0 ? 'is retired now: tokens it signed are refused' : `verifies until ${r.retiring.verifiesUntil}; tokens it signed are refused after that`;
  return {
    data: r,
    text: [
      `Stage ${r.stage}: new signing key ${r.current} is current (SSM parameter ${r.parameter}).`,
      `Key ${r.retiring.kid} ${until} (reason: retired key).`,
      `Running authorizers read the keys again within ${DEFAULT_KEY_CACHE_SECONDS} s; \`hermes token issue\` uses the new key at once.`,
    ].join('\n'),
  };
}

async function show(ctx: CliContext): Promise<CommandResult> {
  const { readStageKeyRing } = await import('../../config/signing-keys.js');
  const ring = await readStageKeyRing(ctx.config(), ctx.credentials);
  const keys = ring.keys.map((k) => ({ kid: k.kid, current: k.kid === ring.current, createdAt: k.createdAt, ...(k.retiresAt ? { retiresAt: k.retiresAt } : {}) }));
  const stage = ctx.config().stage.value;
  return {
    data: { stage, parameter: ctx.config().names.parameter('signingKeys'), keys, retired: ring.retired },
    text: [
      `Signing keys of stage ${stage} (SSM parameter ${ctx.config().names.parameter('signingKeys')}):`,
      ...keys.map((k) => `  ${k.kid}  ${k.current ? 'current' : `verifies until ${k.retiresAt}`}  (made ${k.createdAt})`),
      ...ring.retired.map((k) => `  ${k.kid}  retired ${k.retiredAt}`),
    ].join('\n'),
  };
}

export const register: Register = (program, action) => {
  const secret = program.command('secret').description("the stage's signing keys (in SSM Parameter Store): rotate them, list their ids");
  secret
    .command('rotate')
    .description('make a new signing key current; the previous one keeps verifying until the grace period ends')
    .option('--grace <duration>', `how long tokens signed with the previous key stay valid, e.g. 0, 30m, 2h (default ${DEFAULT_GRACE})`)
    .addHelpText('after', '\nExample:\n  hermes secret rotate --stage prod --grace 2h\n')
    .action(action((ctx, _args, opts) => rotate(ctx, opts)));
  secret
    .command('show')
    .description('list the key ids: current, in their grace period, retired (never a key)')
    .action(action((ctx) => show(ctx)));
};
