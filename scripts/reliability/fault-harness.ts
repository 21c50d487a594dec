/**
 * What the fault scenarios (fault-scenarios.ts) share: one in-process local stack with fault
 * proxies between its functions and DynamoDB / @connections, clients built on the hermes client
 * library (so counts are after its dedupe, as an application sees them), tokens, and the
 * bookkeeping of what each client should and should not get. Loopback only; waits are bounded.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { startLocalStack, type LocalStack } from '../../src/local/stack.js';
import { issueToken } from '../../src/core/tokens.js';
import { publish } from '../../src/core/publish.js';
import { writeStageRecord } from '../../src/config/stage-record.js';
import { localStageRecord } from '../../src/local/state.js';
import { runCli } from '../../src/cli/main.js';
import { connect as connectClient, wsHandshakeStatus, type HermesClient, type Frame } from '../../client/hermes-client.js';
import type { QueueMessage } from '../../src/core/envelope.js';
import { startFaultProxy, type FaultProxy } from './fault-proxy.js';

export interface Row {
  scenario: string;
  tried: number;
  delivered: number;
  lost: number;
  /** Frames an application saw twice: after the client library's dedupe. */
  duplicated: number;
  /** Frames delivered where they must not be (another room, a forged sender), or tokens accepted that must not be. */
  wrong: number;
  serving: boolean;
  rssBefore: number;
  rssAfter: number;
  note: string;
  /** Loss the documented promise allows (kill -9 within the save interval); not a failure. */
  allowedLoss?: boolean;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

export const rssMb = () => Math.round(process.memoryUsage().rss / 2 ** 20);

/** One application client: the library's frames after dedupe, plus what the wire carried. */
export interface AppClient {
  room: string;
  user: string;
  client: HermesClient;
  /** Frame id → times the application got it (more than 1 = a duplicate after dedupe). */
  got: Map<string, number>;
  /** Frame id → when the application first got it (ms). */
  receivedAt: Map<string, number>;
  frames: Frame[];
  wireDuplicates: number;
  opens: number;
  errors: string[];
}

export class Harness {
  stack!: LocalStack;
  ddbProxy!: FaultProxy;
  mgmtProxy!: FaultProxy;
  stateDir = mkdtempSync(path.join(tmpdir(), 'hermes-faults-'));
  lines: string[] = [];
  private clients: AppClient[] = [];
  private rawSockets = new Set<WebSocket>();

  async start(): Promise<void> {
    // The functions are told the proxies' addresses; the proxies learn the real ones once the stack runs.
    this.ddbProxy = await startFaultProxy();
    this.mgmtProxy = await startFaultProxy('/local');
    const log = (l: unknown) => void this.lines.push(String(l));
    this.stack = await startLocalStack({
      ports: { gateway: 0, dynamodb: 0, sqs: 0 },
      visibilityTimeoutSeconds: 2,
      connectGraceSeconds: 0,
      logger: { info: log, warn: log, error: log },
      functionEndpoints: (real) => {
        this.ddbProxy.target = real.dynamodb;
        this.mgmtProxy.target = new URL(real.management).origin;
        return { dynamodb: this.ddbProxy.url, management: this.mgmtProxy.url };
      },
    });
    writeStageRecord(this.stateDir, localStageRecord(this.stack));
  }

  async token(user: string, room: string, ttlSeconds = 3600): Promise<{ token: string; tokenId: string }> {
    const t = await issueToken({ ddb: this.stack.ddb, table: this.stack.names.tokensTable, signingKey: await this.stack.signingKeys.current(), bcryptCost: 4 }, { userId: user, roomId: room, ttlSeconds });
    return { token: t.token, tokenId: t.tokenId };
  }

  /** A client on the library, reconnecting as an application's would. */
  async client(user: string, room: string, token?: string): Promise<AppClient> {
    const t = token ?? (await this.token(user, room)).token;
    const client = connectClient({
      url: this.stack.endpoints.websocket,
      token: t,
      WebSocket: WebSocket as never,
      handshakeStatus: wsHandshakeStatus,
      backoff: { initialMs: 100, maxMs: 1000 },
    });
    const c: AppClient = { room, user, client, got: new Map(), receivedAt: new Map(), frames: [], wireDuplicates: 0, opens: 0, errors: [] };
    client.on('frame', (f) => {
      c.frames.push(f);
      if (!c.receivedAt.has(f.id)) c.receivedAt.set(f.id, Date.now());
      c.got.set(f.id, (c.got.get(f.id) ?? 0) + 1);
    });
    client.on('duplicate', () => void c.wireDuplicates++);
    client.on('open', () => void c.opens++);
    client.on('error', (e) => void c.errors.push(`${e.source}:${e.error}`));
    await Promise.race([client.opened(), sleep(30_000).then(() => Promise.reject(new Error(`client ${user} did not open`)))]);
    this.clients.push(c);
    return c;
  }

  /** A bare `ws` socket (no reconnects), for the cases where the library would hide what happens. */
  raw(token: string): Promise<{ ws: WebSocket; frames: string[]; closed: Promise<{ code: number }> }> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${this.stack.endpoints.websocket}?token=${encodeURIComponent(token)}`);
      this.rawSockets.add(ws);
      const frames: string[] = [];
      const closed = new Promise<{ code: number }>((r) => ws.once('close', (code) => r({ code })));
      ws.on('message', (d) => frames.push(d.toString()));
      ws.once('open', () => resolve({ ws, frames, closed }));
      ws.once('unexpected-response', (_q, res) => {
        reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode }));
        ws.terminate();
      });
      ws.once('error', reject);
    });
  }

  publish(messages: QueueMessage[]) {
    return publish({ sqs: this.stack.sqs, queueUrl: this.stack.queues.queueUrl }, messages);
  }

  /** Runs the CLI in-process against this stack, as a user would run it. */
  async hermes(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    let stdout = '';
    let stderr = '';
    const sink = (write: (s: string) => void) => ({ write: (s: string | Uint8Array) => (write(String(s)), true) });
    const code = await runCli(['--state-dir', this.stateDir, ...argv], {
      stdout: sink((s) => (stdout += s)) as never,
      stderr: sink((s) => (stderr += s)) as never,
      stdin: process.stdin,
      env: { ...process.env, NO_COLOR: '1' },
      cwd: this.stateDir,
      isTTY: false,
    });
    return { code, stdout, stderr };
  }

  /** Is the stack still serving? A fresh client in a fresh room gets a fresh message. */
  async serving(tag: string): Promise<boolean> {
    const room = `canary-${tag}-${Date.now()}`;
    let c: AppClient | undefined;
    try {
      c = await this.client(`canary-${tag}`, room);
      const id = `canary-${tag}-${Date.now()}`;
      await this.publish([{ id, room_id: room, user_id: 'canary', data: 'ping' }]);
      return await until(() => c!.got.has(id), 15_000);
    } catch {
      return false;
    } finally {
      c?.client.close();
    }
  }

  closeClients(which: AppClient[] = this.clients): void {
    for (const c of which) c.client.close();
    this.clients = this.clients.filter((c) => !which.includes(c));
  }

  async close(): Promise<void> {
    this.closeClients();
    for (const ws of this.rawSockets) ws.terminate();
    await this.stack?.close();
    await Promise.all([this.ddbProxy?.close(), this.mgmtProxy?.close()]);
    rmSync(this.stateDir, { recursive: true, force: true });
  }
}

/** Counts for a set of clients and the ids each should have got. */
export function tally(clients: AppClient[], expected: (c: AppClient) => string[]): { tried: number; delivered: number; lost: number; duplicated: number; wrong: number } {
  let tried = 0;
  let delivered = 0;
  let duplicated = 0;
  let wrong = 0;
  for (const c of clients) {
    const want = new Set(expected(c));
    tried += want.size;
    for (const id of want) if (c.got.has(id)) delivered++;
    for (const [, n] of c.got) if (n > 1) duplicated += n - 1;
    for (const f of c.frames) if (f.room_id !== c.room) wrong++;
  }
  return { tried, delivered, lost: tried - delivered, duplicated, wrong };
}
