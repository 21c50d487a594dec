/** Bounded concurrency for operator tasks that call an API once per item (probe, close, …). */

/**
 * Runs `fn` over `items` with at most `limit` calls in flight; results keep the input order.
 * A throw from `fn` rejects the whole run, so callers catch per item what they mean to report.
 * When `signal` aborts, no new item starts and the run resolves with what finished
 * (`undefined` in the slots that never ran).
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
  signal?: AbortSignal,
): Promise<Array<R | undefined>> {
  const results: Array<R | undefined> = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length && !signal?.aborted) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}
