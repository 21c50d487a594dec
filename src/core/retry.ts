/**
 * Waiting between attempts, in one place: whoever retries a call that failed because the other
 * side was busy (a 429 from @connections, a lost race for a sequence number, writes DynamoDB
 * left unprocessed) waits a "full jitter" delay, random up to an exponential ceiling, so the
 * callers that failed together do not come back together. Each caller picks its base and cap.
 */

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The delay before retry `attempt` (1 = the first retry): random in [0, min(capMs, baseMs * 2^attempt)). */
export function jitteredDelay(attempt: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  return random() * Math.min(capMs, baseMs * 2 ** attempt);
}
