/**
 * Fan-out: deliver one serialised frame to a list of connections (a room's, or a shard's, as
 * deliver.ts reads them) through the `@connections` API, with bounded concurrency. A connection
 * that answers 410 GoneException is stale (its client vanished) and its row is deleted;
 * throttling (429) is retried with backoff; anything else is counted as failed and reported,
 * never thrown away silently. With a `stopAt` time, no post starts after it: the connections
 * not reached yet come back as `unreached`, for deliver.ts to hand over to another invocation.
 */
import { PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { isGone, retryThrottled } from './management.js';
import type { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { deleteConnection, type ConnectionStoreDeps } from './connections.js';
import { CONNECT_GRACE_SECONDS } from './defaults.js';
import { mapLimit } from './concurrency.js';

export interface FanoutResult {
  delivered: number;
  pruned: number;
  failed: number;
  failures: Array<{ connectionId: string; error: string }>;
  /** Connections not posted to because `stopAt` came first. */
  unreached: string[];
}

export interface FanoutDeps extends ConnectionStoreDeps {
  management: Pick<ApiGatewayManagementApiClient, 'send'>;
  concurrency?: number;
  /** A 410 for a row younger than this is not pruned (see CONNECT_GRACE_SECONDS). */
  connectGraceSeconds?: number;
  /** Retries after a 429 before the delivery counts as failed. */
  maxThrottleRetries?: number;
  sleep?: (ms: number) => Promise<void>;
  /** Epoch ms after which no new post is started (the invocation's deadline less a margin). */
  stopAt?: number;
  /** The clock `stopAt` is read on; tests set it. */
  now?: () => number;
  /** Structured: a message and its keys (the handlers pass their Powertools Logger). */
  logger?: { warn(message: string, keys: Record<string, unknown>): void };
}

export interface FanoutTarget {
  connectionIds: string[];
  payload: Uint8Array;
}

export async function fanOut(deps: FanoutDeps, target: FanoutTarget): Promise<FanoutResult> {
  const result: FanoutResult = { delivered: 0, pruned: 0, failed: 0, failures: [], unreached: [] };
  const sleep = deps.sleep;
  const connectedBefore = Date.now() - (deps.connectGraceSeconds ?? CONNECT_GRACE_SECONDS) * 1000;
  const maxRetries = deps.maxThrottleRetries ?? 5;

  const deliver = async (connectionId: string) => {
    try {
      await retryThrottled(
        () => deps.management.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: target.payload })),
        { maxRetries, sleep },
      );
      result.delivered++;
    } catch (err) {
      if (isGone(err)) {
        const deleted = await deleteConnection(deps, connectionId, { connectedBefore }).catch((e) => {
          deps.logger?.warn('fan-out: could not delete a stale connection', { connectionId, error: (e as Error).message });
          return false;
        });
        // A row kept by the grace period is still connecting: neither pruned nor failed.
        if (deleted) result.pruned++;
        return;
      }
      result.failed++;
      result.failures.push({ connectionId, error: `${(err as Error).name}: ${(err as Error).message}` });
    }
  };

  const ids = target.connectionIds;
  const now = deps.now ?? Date.now;
  const stopAt = deps.stopAt ?? Infinity;
  const posted = await mapLimit(ids, deps.concurrency ?? 32, async (id) => (await deliver(id), true), () => now() >= stopAt);
  result.unreached = ids.filter((_, i) => !posted[i]);
  return result;
}
