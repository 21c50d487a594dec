/**
 * Closing connections on purpose (an operator's `disconnect`, or revoking a user): each one
 * through DeleteConnection, which closes the socket with 1000 and runs `$disconnect`. The row
 * is deleted here as well, because `$disconnect` is best effort; a connection that answers
 * 410 was already gone, and its leftover row goes the same way.
 */
import { deleteConnection, listConnections, type ConnectionStoreDeps } from './connections.js';
import { mapLimit } from './concurrency.js';
import { closeConnection, describeError, type ManagementClient, type RetryOptions } from './management.js';

export interface DisconnectDeps extends ConnectionStoreDeps {
  management: ManagementClient;
  concurrency?: number;
  retry?: RetryOptions;
}

export interface DisconnectResult {
  closed: string[];
  alreadyGone: string[];
  failed: Array<{ connectionId: string; error: string }>;
}

export async function closeConnections(deps: DisconnectDeps, connectionIds: readonly string[], signal?: AbortSignal): Promise<DisconnectResult> {
  const result: DisconnectResult = { closed: [], alreadyGone: [], failed: [] };
  await mapLimit(
    connectionIds,
    deps.concurrency ?? 16,
    async (id) => {
      let outcome: 'closed' | 'gone';
      try {
        outcome = await closeConnection(deps.management, id, deps.retry);
      } catch (err) {
        result.failed.push({ connectionId: id, error: describeError(err) });
        return;
      }
      try {
        await deleteConnection(deps, id);
      } catch (err) {
        result.failed.push({ connectionId: id, error: `${outcome === 'closed' ? 'closed' : 'already gone'}, but its row could not be deleted: ${describeError(err)}` });
        return;
      }
      (outcome === 'closed' ? result.closed : result.alreadyGone).push(id);
    },
    signal,
  );
  return result;
}

/**
 * The connections opened with tokens that were just revoked. API Gateway never authorizes an
 * open socket again, so without closing them a revoked token keeps its connections for up to
 * 2 hours. A row records the token the authorizer accepted (`token_id`); a row from before that
 * was recorded has none, and counts when the revocation covered the whole scope it lies in
 * (all of the user's tokens, or all of them in its room).
 */
export async function connectionsOfRevokedTokens(
  deps: ConnectionStoreDeps,
  revoked: { userId: string; tokenIds: readonly string[]; scope: 'id' | 'room' | 'all'; roomId?: string },
): Promise<string[]> {
  if (!revoked.tokenIds.length) return [];
  const ids = new Set(revoked.tokenIds);
  const rows = await listConnections(deps, { userId: revoked.userId });
  return rows
    .filter((r) => (r.token_id !== undefined ? ids.has(r.token_id) : revoked.scope === 'all' || (revoked.scope === 'room' && r.room_id === revoked.roomId)))
    .map((r) => r.connection_id);
}
