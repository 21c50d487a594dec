/** Bounded concurrency for work that calls an API once per item (fan-out's posts, probes, closes, …). */

/**
 * Runs `fn` over `items` with at most `limit` calls in flight; results keep the input order.
 * A throw from `fn` rejects the whole run, so callers catch per item what they mean to report.
 * When `stop` says so (an aborted signal, or a predicate such as a deadline that has come), no
 * new item starts and the run resolves with what finished (`undefined` in the slots that never ran).
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
  stop?: AbortSignal | (() => boolean),
): Promise<Array<R | undefined>> {
  const stopped = typeof stop === 'function' ? stop : () => stop?.aborted === true;
  const results: Array<R | undefined> = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length && !stopped()) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}
