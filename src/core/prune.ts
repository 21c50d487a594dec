/**
 * Stale connection rows: `$disconnect` is best effort on AWS, and a client that vanishes leaves
 * a row behind until fan-out hits its 410 or the TTL sweeper (which lags by up to days) gets to
 * it. Pruning scans the table once and removes:
 * - rows past the 2-hour lifetime (connected_at, or the TTL `expires_at`): API Gateway has
 *   closed those sockets, so no probe is needed;
 * - rows whose connection answers GetConnection with 410 GoneException.
 * It is safe while traffic flows. Rows younger than `minAgeMs` are left alone: the connect
 * handler writes the row *during* `$connect`, when the gateway still answers 410 for the
 * connection (docs/api-gateway-websocket.md §4.3), so a young row that looks gone may be one that is about to open.
 * Deleting a row someone else deleted meanwhile is harmless, and a probe that fails for any
 * other reason keeps the row and is reported.
 */
import { CONNECT_GRACE_SECONDS } from './defaults.js';
import { deleteConnection, listConnections, MAX_CONNECTION_SECONDS, type ConnectionRow, type ConnectionStoreDeps } from './connections.js';
import { mapLimit } from './concurrency.js';
import { describeError, probeConnection, type ManagementClient, type RetryOptions } from './management.js';

/** Rows this young may belong to a handshake still in `$connect` (see CONNECT_GRACE_SECONDS). */
export const DEFAULT_PRUNE_MIN_AGE_MS = CONNECT_GRACE_SECONDS * 1000;
export const DEFAULT_PRUNE_CONCURRENCY = 16;

export interface PruneDeps extends ConnectionStoreDeps {
  management: ManagementClient;
  retry?: RetryOptions;
}

export interface PruneOptions {
  dryRun?: boolean;
  minAgeMs?: number;
  concurrency?: number;
  now?: () => number;
  /** Called after each row is decided, for progress output on large tables. */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

export type PruneReason = 'gone' | 'expired';

export interface PruneEntry {
  connectionId: string;
  roomId: string;
  userId: string;
  connectedAt: number;
  reason: PruneReason;
  why: string;
}

export interface PruneResult {
  dryRun: boolean;
  startedAt: number;
  scanned: number;
  probed: number;
  kept: number;
  /** Younger than minAgeMs (or created after the scan began): not probed, not touched. */
  skippedYoung: number;
  /** Removed, or with dryRun the rows that would be. */
  removed: PruneEntry[];
  /** Rows kept because their probe or their delete failed. */
  errors: Array<{ connectionId: string; roomId: string; userId: string; error: string }>;
  /** True when the signal stopped the run before every row was decided. */
  interrupted: boolean;
}

/** Why a row is past the connection lifetime, or undefined when it is not. */
export function expiredBecause(row: ConnectionRow, nowMs: number): string | undefined {
  if (typeof row.connected_at === 'number' && row.connected_at + MAX_CONNECTION_SECONDS * 1000 <= nowMs) {
    return 'connected more than 2 h ago (API Gateway closes every connection by then)';
  }
  if (typeof row.expires_at === 'number' && row.expires_at * 1000 <= nowMs) {
    return 'its TTL (expires_at) has passed; DynamoDB had not swept it yet';
  }
  return undefined;
}

export async function pruneStale(deps: PruneDeps, opts: PruneOptions = {}): Promise<PruneResult> {
  const now = opts.now ?? Date.now;
  const startedAt = now();
  const minAgeMs = opts.minAgeMs ?? DEFAULT_PRUNE_MIN_AGE_MS;
  const result: PruneResult = {
    dryRun: Boolean(opts.dryRun),
    startedAt,
    scanned: 0,
    probed: 0,
    kept: 0,
    skippedYoung: 0,
    removed: [],
    errors: [],
    interrupted: false,
  };
  const rows = await listConnections(deps);
  result.scanned = rows.length;
  let done = 0;

  const remove = async (row: ConnectionRow, reason: PruneReason, why: string) => {
    const entry: PruneEntry = {
      connectionId: row.connection_id,
      roomId: row.room_id,
      userId: row.user_id,
      connectedAt: row.connected_at,
      reason,
      why,
    };
    if (!opts.dryRun) {
      try {
        await deleteConnection(deps, row.connection_id); // already deleted by someone else: fine
      } catch (err) {
        result.errors.push({ connectionId: row.connection_id, roomId: row.room_id, userId: row.user_id, error: `delete failed: ${describeError(err)}` });
        return;
      }
    }
    result.removed.push(entry);
  };

  const decide = async (row: ConnectionRow) => {
    const expired = expiredBecause(row, startedAt);
    if (expired) return remove(row, 'expired', expired);
    // A row written after the scan began is younger than the scan, so it lands here too.
    if (typeof row.connected_at === 'number' && row.connected_at > startedAt - minAgeMs) {
      result.skippedYoung++;
      return;
    }
    result.probed++;
    const probe = await probeConnection(deps.management, row.connection_id, deps.retry);
    if (probe.state === 'gone') return remove(row, 'gone', '410 GoneException from @connections: the client is gone');
    if (probe.state === 'error') {
      result.errors.push({ connectionId: row.connection_id, roomId: row.room_id, userId: row.user_id, error: `probe failed: ${probe.error}` });
      return;
    }
    result.kept++;
  };

  await mapLimit(
    rows,
    opts.concurrency ?? DEFAULT_PRUNE_CONCURRENCY,
    async (row) => {
      await decide(row);
      done++;
      opts.onProgress?.(done, rows.length);
    },
    opts.signal,
  );
  result.interrupted = done < rows.length;
  return result;
}
