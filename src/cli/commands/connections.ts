/**
 * `hermes connections list`: the rows of the connections table (a room or user through its
 * index), each probed with GetConnection for its last activity unless --no-probe.
 */
import type { Register } from '../runner.js';
import type { CliContext } from '../context.js';

interface ListOptions {
  room?: string;
  user?: string;
  probe?: boolean;
}

const PROBE_CONCURRENCY = 16;

async function list(ctx: CliContext, opts: ListOptions) {
  const { listConnections } = await import('../../core/connections.js');
  const { mapLimit } = await import('../../core/concurrency.js');
  const { probeConnection } = await import('../../core/management.js');
  const { connectionStore } = await import('../stage-resources.js');
  const { plural } = await import('../format.js');
  const { nonEmpty } = await import('../../config/parse.js');
  const { table, humanDuration } = await import('../format.js');
  const roomId = nonEmpty('--room', opts.room);
  const userId = nonEmpty('--user', opts.user);

  const store = await connectionStore(ctx);
  const probe = opts.probe !== false;
  const management = probe ? await ctx.management() : undefined;
  const rows = await listConnections(store, { roomId, userId });
  const probes = management
    ? await mapLimit(rows, PROBE_CONCURRENCY, (r) => probeConnection(management, r.connection_id), ctx.signal)
    : [];
  const now = Date.now();

  const connections = rows.map((r, i) => {
    const p = probes[i];
    const state = !p ? 'unprobed' : p.state;
    return {
      connectionId: r.connection_id,
      roomId: r.room_id,
      userId: r.user_id,
      connectedAt: new Date(r.connected_at).toISOString(),
      ageSeconds: Math.max(0, Math.floor((now - r.connected_at) / 1000)),
      ...(p?.state === 'live' && p.lastActiveAt !== undefined ? { lastActiveAt: new Date(p.lastActiveAt).toISOString() } : {}),
      state,
      ...(p?.state === 'error' ? { error: p.error } : {}),
    };
  });
  const counts = new Map<string, number>();
  for (const r of rows) counts.set(r.room_id, (counts.get(r.room_id) ?? 0) + 1);
  const rooms = Object.fromEntries([...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
  const data = { connections, rooms, total: rows.length };

  const scope = [roomId !== undefined && `room "${roomId}"`, userId !== undefined && `user "${userId}"`].filter(Boolean).join(' and ');
  if (rows.length === 0) return { data, text: `No connections${scope ? ` for ${scope}` : ''}.` };

  const c = ctx.c;
  const lastActive = (x: (typeof connections)[number]) => {
    if (x.state === 'gone') return c.yellow('gone (410)');
    if (x.state === 'error') return c.red('probe failed');
    if (x.lastActiveAt) return `${humanDuration(now - Date.parse(x.lastActiveAt))} ago`;
    return c.dim('-');
  };
  const lines = [
    table(
      c,
      ['CONNECTION', 'ROOM', 'USER', 'AGE', 'LAST ACTIVE'],
      connections.map((x) => [x.connectionId, x.roomId, x.userId, humanDuration(x.ageSeconds * 1000), lastActive(x)]),
    ),
    '',
    `${plural(rows.length, 'connection')} in ${plural(counts.size, 'room')}: ${Object.entries(rooms).map(([r, n]) => `${r} ${n}`).join(', ')}`,
  ];
  const gone = connections.filter((x) => x.state === 'gone').length;
  if (gone) ctx.warn(`${plural(gone, 'row')} answer${gone === 1 ? 's' : ''} 410 Gone: the client left without $disconnect. \`hermes prune-stale\` removes such rows.`);
  const failed = connections.find((x) => x.state === 'error');
  if (failed) ctx.warn(`GetConnection failed for ${failed.connectionId}: ${failed.error}`);
  return { data, text: lines.join('\n') };
}

export const register: Register = (program, action) => {
  const connections = program.command('connections').description('inspect live WebSocket connections');
  connections
    .command('list')
    .description('list connections with room, user, age and last activity, and the count per room')
    .option('--room <room>', 'only this room (read through the room index)')
    .option('--user <user>', 'only this user (read through the user index)')
    .option('--no-probe', 'do not ask @connections for each connection\'s last activity')
    .action(action((ctx, _args, opts) => list(ctx, opts as ListOptions)));
};
