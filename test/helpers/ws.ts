/** A real `ws` client for tests, with bounded waits for frames, opens and closes. */
import WebSocket from 'ws';

export interface TestClient {
  ws: WebSocket;
  frames: unknown[];
  /** Wait until `n` frames arrived in total (or `predicate` matches one); bounded. */
  waitFor(n: number, timeoutMs?: number): Promise<unknown[]>;
  waitForFrame(predicate: (f: any) => boolean, timeoutMs?: number): Promise<any>;
  closed: Promise<{ code: number; reason: string }>;
  close(): Promise<void>;
}

export function connect(url: string, token?: string): Promise<TestClient> {
  const full = token === undefined ? url : `${url}?token=${encodeURIComponent(token)}`;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(full);
    const frames: unknown[] = [];
    const waiters: Array<() => void> = [];
    let closeResolve!: (v: { code: number; reason: string }) => void;
    const closed = new Promise<{ code: number; reason: string }>((r) => (closeResolve = r));
    ws.on('message', (data) => {
      const text = data.toString();
      try {
        frames.push(JSON.parse(text));
      } catch {
        frames.push(text);
      }
      waiters.splice(0).forEach((w) => w());
    });
    ws.on('close', (code, reason) => closeResolve({ code, reason: reason.toString() }));
    const until = (check: () => boolean, timeoutMs: number, what: string) =>
      new Promise<void>((res, rej) => {
        if (check()) return res();
        const timer = setTimeout(() => rej(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; got ${JSON.stringify(frames)}`)), timeoutMs);
        const poll = () => {
          if (check()) {
            clearTimeout(timer);
            res();
          } else waiters.push(poll);
        };
        waiters.push(poll);
      });
    const client: TestClient = {
      ws,
      frames,
      async waitFor(n, timeoutMs = 10_000) {
        await until(() => frames.length >= n, timeoutMs, `${n} frames`);
        return frames;
      },
      async waitForFrame(predicate, timeoutMs = 10_000) {
        await until(() => frames.some(predicate), timeoutMs, 'a matching frame');
        return frames.find(predicate);
      },
      closed,
      async close() {
        if (ws.readyState === WebSocket.CLOSED) return;
        ws.close();
        await Promise.race([closed, new Promise((r) => setTimeout(r, 3000))]);
      },
    };
    ws.once('open', () => resolve(client));
    ws.once('unexpected-response', (_req, res) => {
      reject(Object.assign(new Error(`Unexpected server response: ${res.statusCode}`), { statusCode: res.statusCode }));
      ws.terminate();
    });
    ws.once('error', (err) => reject(err));
  });
}

/** Expect the handshake to be refused; resolves with the HTTP status. */
export async function refusedStatus(url: string, token?: string): Promise<number> {
  try {
    const c = await connect(url, token);
    await c.close();
    throw new Error('connection was accepted');
  } catch (err) {
    const status = (err as { statusCode?: number }).statusCode;
    if (status === undefined) throw err;
    return status;
  }
}

/** Wait (bounded) until `check` is true, polling. */
export async function eventually<T>(check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v as T;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
