/**
 * `hermes disconnect`: close connections through the `@connections` API (the client sees
 * 1000), by id, by user or by room. Closing more than one named id needs confirmation.
 */
import type { Register } from '../runner.js';
import type { CliContext } from '../context.js';

interface DisconnectFlags {
  connection?: string;
  user?: string;
  room?: string;
}

async function disconnect(ctx: CliContext, flags: DisconnectFlags) {
  const { UsageError } = await import('../../core/errors.js');
  const { listConnections } = await import('../../core/connections.js');
  const { closeConnections } = await import('../../core/close-connections.js');
  const { connectionStore } = await import('../stage-resources.js');
  const { plural } = await import('../format.js');
  const { nonEmpty } = await import('../../config/parse.js');
  const { table } = await import('../format.js');

  const given = (
    [
      ['--connection', flags.connection],
      ['--user', flags.user],
      ['--room', flags.room],
    ] as const
  ).filter(([, v]) => v !== undefined);
  if (given.length !== 1) {
    throw new UsageError(
      given.length === 0
        ? 'Say which connections to close: pass one of --connection <id>, --user <user> or --room <room>.'
        : `Pass only one of --connection, --user or --room (got ${given.map(([f]) => f).join(' and ')}).`,
      { hint: 'For example `hermes disconnect --user alice`.' },
    );
  }
  const [flag, raw] = given[0];
  const value = nonEmpty(flag, raw)!;
  const scope = flag === '--connection' ? `connection ${value}` : `${flag === '--user' ? 'user' : 'room'} "${value}"`;

  const store = await connectionStore(ctx);
  const management = await ctx.management();
  let ids: string[];
  if (flag === '--connection') {
    ids = [value];
  } else {
    const rows = await listConnections(store, flag === '--user' ? { userId: value } : { roomId: value });
    ids = rows.map((r) => r.connection_id);
    if (ids.length === 0) {
      return { data: { selector: { [flag.slice(2)]: value }, matched: 0, closed: [], alreadyGone: [], failed: [] }, text: `No connections for ${scope}; nothing to close.` };
    }
    await ctx.confirm(`close ${plural(ids.length, 'connection')} of ${scope}`);
  }

  const result = await closeConnections({ ...store, management }, ids, ctx.signal);
  const data = { selector: { [flag.slice(2)]: value }, matched: ids.length, ...result };
  const lines: string[] = [];
  if (flag === '--connection' && result.alreadyGone.length) {
    lines.push(`Connection ${value} was already gone (410); its row, if any, was deleted.`);
  } else {
    let line = `Closed ${plural(result.closed.length, 'connection')} of ${scope}`;
    if (result.alreadyGone.length) line += ` (${result.alreadyGone.length} more ${result.alreadyGone.length === 1 ? 'was' : 'were'} already gone; ${result.alreadyGone.length === 1 ? 'its row was' : 'their rows were'} deleted)`;
    lines.push(`${line}.`);
  }
  if (result.failed.length) {
    lines.push(ctx.c.red(`${plural(result.failed.length, 'connection')} could not be closed:`));
    lines.push(table(ctx.c, ['CONNECTION', 'ERROR'], result.failed.map((f) => [f.connectionId, f.error])));
  }
  return { data, text: lines.join('\n'), exitCode: result.failed.length ? 1 : 0 };
}

export const register: Register = (program, action) => {
  program
    .command('disconnect')
    .description('close connections through @connections (clients see close code 1000): one id, a user\'s or a room\'s')
    .option('--connection <id>', 'close this connection')
    .option('--user <user>', 'close every connection of this user (asks first)')
    .option('--room <room>', 'close every connection in this room (asks first)')
    .option('-y, --yes', 'do not ask; required when no one is at the keyboard')
    .action(action((ctx, _args, opts) => disconnect(ctx, opts as DisconnectFlags)));
};
