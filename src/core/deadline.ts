/**
 * When an invocation stops starting work (posts of a fan-out, frames of a replay): at its
 * deadline less a margin, the time for what is in flight to finish and for what must still go
 * out after it (a hand-over to the queue, a resume's summary). An invocation with less than
 * twice the margin left still gets half of its time, so every invocation makes progress.
 */

/** Fan-out's margin: the posts in flight, the hand-over's SendMessageBatch, and the response. */
export const DEADLINE_MARGIN_MS = 5000;

/** The `stopAt` (epoch ms) for an invocation with `remainingMs` left (the Lambda context's getRemainingTimeInMillis()). */
export function stopTimeFor(remainingMs: number, now = Date.now(), marginMs = DEADLINE_MARGIN_MS): number {
  return now + remainingMs - Math.min(marginMs, remainingMs / 2);
}
