/** closeConnections: closing on purpose and forgetting the rows (src/core/close-connections.ts). */
import { describe, it, expect } from 'vitest';
import { DeleteConnectionCommand, GoneException, ForbiddenException } from '@aws-sdk/client-apigatewaymanagementapi';
import { connectionRow, getConnection } from '../src/core/connections.js';
import { closeConnections } from '../src/core/close-connections.js';
import { management, mgmt, store, noSleep, meta, seed } from './helpers/operator-core.js';

describe('closeConnections', () => {
  it('closes, counts 410 as already gone (deleting the row either way), and reports other failures keeping the row', async () => {
    await seed(['c1', 'c2', 'c3'].map((id) => connectionRow({ connectionId: id, roomId: 'd', userId: 'u', connectedAt: Date.now() })));
    management.on(DeleteConnectionCommand, { ConnectionId: 'c1' }).resolves({});
    management.on(DeleteConnectionCommand, { ConnectionId: 'c2' }).rejects(new GoneException({ message: '', ...meta }));
    management.on(DeleteConnectionCommand, { ConnectionId: 'c3' }).rejects(new ForbiddenException({ message: 'Forbidden', ...meta }));

    const r = await closeConnections({ ...store(), management: mgmt, retry: noSleep }, ['c1', 'c2', 'c3']);

    expect(r).toEqual({ closed: ['c1'], alreadyGone: ['c2'], failed: [{ connectionId: 'c3', error: 'ForbiddenException: Forbidden' }] });
    expect(await getConnection(store(), 'c1')).toBeUndefined();
    expect(await getConnection(store(), 'c2')).toBeUndefined();
    expect(await getConnection(store(), 'c3')).toBeDefined();
  });
});
