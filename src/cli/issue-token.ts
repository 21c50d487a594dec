/**
 * Minting a token from the CLI (`token issue`, and `listen` without --token): the core's
 * issueToken against the stage's tokens table with its signing key and bcrypt cost, and, when
 * the core refuses an input, a hint naming the flag that input came from.
 */
import type { CliContext } from './context.js';
import type { IssuedToken } from '../core/tokens.js';
import { withFlagHint } from './errors.js';

const FLAG_HINTS = {
  userId: 'Pass --user with the id of the user the token is for.',
  roomId: 'Pass --room with the room the token may join.',
  ttlSeconds: 'Use --ttl with a value such as 15m, 1h or 7d.',
};

export async function issueTokenFromFlags(
  ctx: CliContext,
  input: { userId: string; roomId: string; ttlSeconds?: number },
): Promise<IssuedToken> {
  const { issueToken } = await import('../core/tokens.js');
  const cfg = ctx.config();
  const store = { ddb: await ctx.ddb(), table: cfg.names.tokensTable };
  try {
    // A stage's tokenTtl setting is the default lifetime; --ttl beats it.
    const lifetime = { ...input, ttlSeconds: input.ttlSeconds ?? cfg.settings.tokenTtlSeconds };
    return await issueToken({ ...store, signingKey: await (await ctx.signingKeys()).current(), bcryptCost: cfg.bcryptCost.value }, lifetime);
  } catch (err) {
    throw withFlagHint(err, FLAG_HINTS);
  }
}
