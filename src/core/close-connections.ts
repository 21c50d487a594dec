/**
 * Closing connections on purpose (an operator's `disconnect`, or revoking a user): each one
 * through DeleteConnection, which closes the socket with 1000 and runs `$disconnect`. The row
 * is deleted here as well, because `$disconnect` is best effort; a connection that answers
 * 410 was already gone, and its leftover row goes the same way.
 */
import { deleteConnection, type ConnectionStoreDeps } from './connections.js';
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
