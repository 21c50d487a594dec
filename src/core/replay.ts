/**
 * Replay: what the `resume` route sends a connection that asks for a stream after a number.
 * The frames go out one after the other, oldest first, each as first stored plus
 * `"replay": true`, then one `{"resumed": …}` summary per stream (client/protocol.ts). The
 * streams are the connection's own room and user, which the handler takes from the authorizer
 * context; the request only says from where.
 */
import { PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import type { ErrorFrame, ResumedFrame, ResumeRequest, StreamName } from '../../client/protocol.js';
import { readAfter, readHead, replayPayload, type HistoryDeps, type StreamRef } from './history.js';
import { isGone, retryThrottled, type ManagementClient } from './management.js';

/** Frames one resume sends per stream at most; the summary says `more` and the client asks again. */
export const REPLAY_PAGE = 200;
/** Replay's deadline margin (./deadline.ts): time for the summary to still go out. */
export const REPLAY_DEADLINE_MARGIN_MS = 3000;

const STREAMS: readonly StreamName[] = ['room', 'user'];

/** The request's `since` (and `until`) per stream, or the error frame that answers a malformed one. */
export function parseResume(body: string | undefined): Pick<ResumeRequest, 'since' | 'until'> | ErrorFrame {
  const usage = 'Send {"action":"resume","since":{"room":<last seq seen, or null>,"user":<last seq seen, or null>}}.';
  let parsed: unknown;
  try {
    parsed = JSON.parse(body ?? '');
  } catch {
    return { error: 'invalid_json', message: `The message is not JSON. ${usage}` };
  }
  const { since, until } = (parsed ?? {}) as { since?: unknown; until?: unknown };
  if (!since || typeof since !== 'object' || Array.isArray(since)) return { error: 'invalid_resume', message: `resume needs "since". ${usage}` };
  const out: ResumeRequest['since'] = {};
  for (const [k, v] of Object.entries(since)) {
    if (!STREAMS.includes(k as StreamName)) return { error: 'invalid_resume', message: `Unknown stream "${k.slice(0, 32)}": the streams are room and user. ${usage}` };
    if (v !== null && !(Number.isSafeInteger(v) && (v as number) >= 0)) {
      return { error: 'invalid_resume', message: `"since.${k}" must be a whole number >= 0 or null. ${usage}` };
    }
    out[k as StreamName] = v as number | null;
  }
  if (Object.keys(out).length === 0) return { error: 'invalid_resume', message: `"since" names no stream. ${usage}` };
  if (until === undefined) return { since: out };
  if (!until || typeof until !== 'object' || Array.isArray(until)) return { error: 'invalid_resume', message: `"until" must be an object like "since". ${usage}` };
  const upTo: NonNullable<ResumeRequest['until']> = {};
  for (const [k, v] of Object.entries(until)) {
    if (!(k in out) || !(Number.isSafeInteger(v) && (v as number) >= 0)) {
      return { error: 'invalid_resume', message: `"until.${k.slice(0, 32)}" must be a whole number >= 0 for a stream named in "since". ${usage}` };
    }
    upTo[k as StreamName] = v as number;
  }
  return { since: out, until: upTo };
}

export interface ReplayDeps {
  /** Undefined when the stage keeps no history. */
  history?: HistoryDeps;
  management: ManagementClient;
  connectionId: string;
  /** Epoch ms after which no frame is posted (stopTimeFor with REPLAY_DEADLINE_MARGIN_MS); unbounded without it. */
  stopAt?: number;
  /** The clock `stopAt` is read on; tests set it. */
  now?: () => number;
}

export interface StreamReplay {
  stream: StreamName;
  since: number | null;
  replayed: number;
  lost: number;
  more: boolean;
}

/** Sent to a connection that is gone: nothing more to do for it. */
class ConnectionGone extends Error {}

async function post(deps: ReplayDeps, text: string): Promise<void> {
  try {
    await retryThrottled(() => deps.management.send(new PostToConnectionCommand({ ConnectionId: deps.connectionId, Data: Buffer.from(text, 'utf8') })));
  } catch (err) {
    if (isGone(err)) throw new ConnectionGone();
    throw err;
  }
}

/**
 * Replay each asked-for stream in turn. Returns what was sent; stops quietly when the
 * connection goes away.
 */
export async function replay(
  deps: ReplayDeps,
  asked: Array<{ name: StreamName; ref: StreamRef; since: number | null; until?: number }>,
): Promise<StreamReplay[]> {
  const done: StreamReplay[] = [];
  try {
    for (const s of asked) done.push(await replayStream(deps, s));
  } catch (err) {
    if (!(err instanceof ConnectionGone)) throw err;
  }
  return done;
}

async function replayStream(deps: ReplayDeps, s: { name: StreamName; ref: StreamRef; since: number | null; until?: number }): Promise<StreamReplay> {
  const summary = (r: Omit<ResumedFrame['resumed'], 'stream' | 'since'>) => post(deps, JSON.stringify({ resumed: { stream: s.name, since: s.since, ...r } } satisfies ResumedFrame));
  if (!deps.history) {
    await summary({ history: false, head: 0, through: 0, more: false, lost: [] });
    return { stream: s.name, since: s.since, replayed: 0, lost: 0, more: false };
  }
  if (s.since === null) {
    const head = await readHead(deps.history, s.ref);
    await summary({ history: true, head, through: head, more: false, lost: [] });
    return { stream: s.name, since: null, replayed: 0, lost: 0, more: false };
  }
  const page = await readAfter(deps.history, s.ref, s.since, REPLAY_PAGE, s.until);
  let through = page.through;
  let more = page.more;
  let replayed = 0;
  const now = deps.now ?? Date.now;
  for (const m of page.messages) {
    if (deps.stopAt !== undefined && now() >= deps.stopAt) {
      // Out of time: say how far this answer got; the client asks again from there.
      through = replayed ? page.messages[replayed - 1].seq : s.since;
      more = true;
      break;
    }
    await post(deps, replayPayload(m.payload));
    replayed++;
  }
  const lost = page.lost.filter((l) => l.from <= through).map((l) => ({ from: l.from, to: Math.min(l.to, through) }));
  await summary({ history: true, head: page.head, through, more, lost });
  return { stream: s.name, since: s.since, replayed, lost: lost.reduce((n, l) => n + l.to - l.from + 1, 0), more };
}
