/**
 * Fan-out: deliver one serialised frame to every connection of a room through the
 * `@connections` API, with bounded concurrency. A connection that answers 410 GoneException is
 * stale (its client vanished) and its row is deleted; throttling (429) is retried with backoff;
 * anything else is counted as failed and reported, never thrown away silently.
 */
import { PostToConnectionCommand, GoneException, LimitExceededException } from '@aws-sdk/client-apigatewaymanagementapi';
import type { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { deleteConnection, roomConnectionPages, type ConnectionStoreDeps } from './connections.js';

export interface FanoutResult {
  delivered: number;
  pruned: number;
  failed: number;
  failures: Array<{ connectionId: string; error: string }>;
}

export interface FanoutDeps extends ConnectionStoreDeps {
  management: Pick<ApiGatewayManagementApiClient, 'send'>;
  concurrency?: number;
  /** Retries after a 429 before the delivery counts as failed. */
  maxThrottleRetries?: number;
  sleep?: (ms: number) => Promise<void>;
  logger?: Pick<Console, 'warn'>;
}

export interface FanoutTarget {
  roomId: string;
  /** When given, deliver to exactly these connections instead of querying the room (a shard). */
  connectionIds?: string[];
  payload: Uint8Array;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function isThrottle(err: unknown): boolean {
  if (err instanceof LimitExceededException) return true;
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.$metadata?.httpStatusCode === 429 || e?.name === 'ThrottlingException' || e?.name === 'TooManyRequestsException';
}

function isGone(err: unknown): boolean {
  // By type, not by message. The status is a second check because a non-JSON 410 body from a
  // proxy in front of the endpoint still means the connection is gone.
  return err instanceof GoneException || (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode === 410;
}

async function* idsOf(deps: FanoutDeps, target: FanoutTarget): AsyncGenerator<string> {
  if (target.connectionIds) {
    yield* target.connectionIds;
    return;
  }
  for await (const page of roomConnectionPages(deps, target.roomId)) yield* page;
}

export async function fanOut(deps: FanoutDeps, target: FanoutTarget): Promise<FanoutResult> {
  const result: FanoutResult = { delivered: 0, pruned: 0, failed: 0, failures: [] };
  const sleep = deps.sleep ?? defaultSleep;
  const maxRetries = deps.maxThrottleRetries ?? 5;
  const source = idsOf(deps, target);
  let sourceDone = false;
  // Workers share one iterator; async generators queue concurrent next() calls safely.
  const next = async (): Promise<string | undefined> => {
    if (sourceDone) return undefined;
    const r = await source.next();
    if (r.done) sourceDone = true;
    return r.done ? undefined : r.value;
  };

  const deliver = async (connectionId: string) => {
    for (let attempt = 0; ; attempt++) {
      try {
        await deps.management.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: target.payload }));
        result.delivered++;
        return;
      } catch (err) {
        if (isGone(err)) {
          await deleteConnection(deps, connectionId).catch((e) => {
            deps.logger?.warn(`fan-out: could not delete stale connection ${connectionId}: ${(e as Error).message}`);
          });
          result.pruned++;
          return;
        }
        if (isThrottle(err) && attempt < maxRetries) {
          // Full jitter: spreads retries of many deliveries that were throttled together.
          await sleep(Math.random() * Math.min(2000, 25 * 2 ** attempt));
          continue;
        }
        result.failed++;
        result.failures.push({ connectionId, error: `${(err as Error).name}: ${(err as Error).message}` });
        return;
      }
    }
  };

  const workers = Array.from({ length: Math.max(1, deps.concurrency ?? 32) }, async () => {
    for (let id = await next(); id !== undefined; id = await next()) await deliver(id);
  });
  await Promise.all(workers);
  return result;
}
