/** pruneStale: which connection rows go, which stay, and what is reported (src/core/prune.ts). */
import { describe, it, expect } from 'vitest';
import { GetConnectionCommand, GoneException, LimitExceededException, ForbiddenException } from '@aws-sdk/client-apigatewaymanagementapi';
import { connectionRow, getConnection } from '../src/core/connections.js';
import { pruneStale } from '../src/core/prune.js';
import { management, mgmt, store, noSleep, meta, seed } from './helpers/operator-core.js';

describe('pruneStale', () => {
  it('removes 410s and rows past 2 h, keeps live, young and unprobeable rows, and retries throttled probes', async () => {
    // Prepare
    const now = Date.now();
    const row = (id: string, ageMs: number) => connectionRow({ connectionId: id, roomId: 'p', userId: `u-${id}`, connectedAt: now - ageMs });
    await seed([
      row('live', 600_000),
      row('gone', 600_000),
      row('old', 3 * 3600_000),
      { ...row('ttl', 600_000), expires_at: Math.floor(now / 1000) - 1 },
      row('young', 5_000),
      row('forbidden', 600_000),
      row('throttled', 600_000),
    ]);
    management.on(GetConnectionCommand).callsFake((input: { ConnectionId: string }) => {
      switch (input.ConnectionId) {
        case 'gone':
        case 'young':
          throw new GoneException({ message: '', ...meta });
        case 'forbidden':
          throw new ForbiddenException({ message: 'Forbidden', ...meta });
        default:
          return { ConnectedAt: new Date(now - 600_000), LastActiveAt: new Date(now - 1000) };
      }
    });
    management.on(GetConnectionCommand, { ConnectionId: 'throttled' })
      .rejectsOnce(new LimitExceededException({ message: 'slow down', ...meta }))
      .resolves({ LastActiveAt: new Date(now) });
    const deps = { ...store(), management: mgmt, retry: noSleep };

    // Act: a dry run first, then the real one
    const dry = await pruneStale(deps, { dryRun: true, now: () => now });
    const real = await pruneStale(deps, { now: () => now });

    // Assess
    for (const r of [dry, real]) {
      expect(Object.fromEntries(r.removed.map((e) => [e.connectionId, e.reason]))).toEqual({ gone: 'gone', old: 'expired', ttl: 'expired' });
      expect(r).toMatchObject({ scanned: 7, kept: 2, skippedYoung: 1, probed: 4, interrupted: false });
      expect(r.errors).toEqual([{ connectionId: 'forbidden', roomId: 'p', userId: 'u-forbidden', error: expect.stringMatching(/^probe failed: ForbiddenException/) }]);
    }
    const probed = management.commandCalls(GetConnectionCommand).map((c) => c.args[0].input.ConnectionId);
    expect(probed).not.toContain('old'); // expired rows need no probe
    expect(probed).not.toContain('young'); // may still be inside $connect
    for (const id of ['gone', 'old', 'ttl']) expect(await getConnection(store(), id)).toBeUndefined();
    for (const id of ['live', 'young', 'forbidden', 'throttled']) expect(await getConnection(store(), id)).toBeDefined();
  });
});
