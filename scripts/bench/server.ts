/**
 * The server side of the bench script, run as a child process so that the system under test
 * and the listeners each get an event loop (a core each, on a 2-core machine), as with
 * `hermes dev` in one terminal and clients in another. It hosts, one at a time or together:
 * - the hermes local stack (the Lambda bundles in-process, as `hermes dev` runs them);
 * - a bare loop of PostToConnection calls against that stack's gateway, with no queue, table
 *   or Lambda in between (the floor for this architecture);
 * - a bare `ws` server that broadcasts each frame to its room's sockets (the machine's floor).
 * Commands arrive over IPC as {id, op, ...}; each gets {id, ok, result | error}.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { PostToConnectionCommand, ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { startLocalStack, type LocalStack } from '../../src/local/stack.js';
import type { HandlerName } from '../../src/stack/definition.js';
import { createManagementClient, LOCAL_CREDENTIALS } from '../../src/core/clients.js';
import { listConnections, listRoomConnectionIds } from '../../src/core/connections.js';
import { buildFrame, encodeFrame, type QueueMessage } from '../../src/core/envelope.js';
import { startProfile, type ProfileSummary } from './profile.js';

type Request = { id: number; op: string; [k: string]: unknown };

let stack: LocalStack | undefined;
let profileStop: (() => Promise<ProfileSummary>) | undefined;

// ---- bare PostToConnection loop ---------------------------------------------------------------

interface PostLoop {
  client: Pick<ApiGatewayManagementApiClient, 'send'>;
  concurrency: number;
  queue: Array<{ payload: Uint8Array; ids: string[]; at: number }>;
  workers: number;
  posted: number;
  failed: number;
  errors: string[];
}
let loop: PostLoop | undefined;
const roomIds = new Map<string, Promise<string[]>>();

function roomConnections(room: string): Promise<string[]> {
  let p = roomIds.get(room);
  if (!p) {
    p = listRoomConnectionIds({ ddb: stack!.ddb, table: stack!.names.connectionsTable }, room);
    roomIds.set(room, p);
  }
  return p;
}

async function postWorker(l: PostLoop): Promise<void> {
  l.workers++;
  try {
    for (;;) {
      const job = l.queue[0];
      if (!job) return;
      if (job.at >= job.ids.length) {
        l.queue.shift();
        continue;
      }
      const id = job.ids[job.at++];
      try {
        await l.client.send(new PostToConnectionCommand({ ConnectionId: id, Data: job.payload }));
        l.posted++;
      } catch (err) {
        l.failed++;
        if (l.errors.length < 5) l.errors.push(`${(err as Error).name}: ${(err as Error).message}`);
      }
    }
  } finally {
    l.workers--;
  }
}

// ---- bare ws server -----------------------------------------------------------------------------

let bare: { server: http.Server; wss: WebSocketServer; rooms: Map<string, Set<WebSocket>>; url: string } | undefined;

async function startBareWs(): Promise<string> {
  const server = http.createServer((_req, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  const rooms = new Map<string, Set<WebSocket>>();
  wss.on('connection', (ws, req) => {
    const room = new URL(req.url ?? '/', 'http://x').searchParams.get('room') ?? '';
    let set = rooms.get(room);
    if (!set) rooms.set(room, (set = new Set()));
    set.add(ws);
    ws.on('close', () => set!.delete(ws));
    ws.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  bare = { server, wss, rooms, url };
  return url;
}

async function broadcast(messages: QueueMessage[]): Promise<void> {
  for (const m of messages) {
    // Serialised once per message, as hermes does, then written to each socket of the room.
    const payload = encodeFrame(buildFrame({ ...m }));
    for (const ws of bare?.rooms.get(m.room_id!) ?? []) ws.send(payload, { binary: false });
    await new Promise((r) => setImmediate(r)); // let the sockets flush between messages
  }
}

// ---- commands -----------------------------------------------------------------------------------

const ops: Record<string, (req: Request) => Promise<unknown>> = {
  async startStack(req) {
    roomIds.clear();
    const opts = (req.options ?? {}) as Record<string, unknown>;
    stack = await startLocalStack({
      ports: { gateway: 0, dynamodb: 0, sqs: 0 },
      ...opts,
      ...(process.env.HERMES_BENCH_LOGS ? { gatewayLog: (l: string) => process.stderr.write(`[gateway] ${l}\n`) } : {}),
      // HERMES_BENCH_LOGS=1 shows the handlers' info logs too (one line per delivered message).
      logger: { info: (l) => process.env.HERMES_BENCH_LOGS && process.stderr.write(`[stack] ${l}\n`), warn: (l) => process.stderr.write(`[stack] ${l}\n`), error: (l) => process.stderr.write(`[stack] ${l}\n`) },
    });
    return {
      endpoints: stack.endpoints,
      queueUrl: stack.queues.queueUrl,
      tokensTable: stack.names.tokensTable,
      connectionsTable: stack.names.connectionsTable,
      jwtSecret: stack.jwtSecret,
      region: stack.region,
    };
  },
  async stopStack() {
    // Let the $disconnect invocations of the sockets just closed finish first: the stack's
    // own shutdown does not wait for work in flight (dynalite would be closed under them).
    const until = Date.now() + 20_000;
    while (stack && Date.now() < until && (stack.gateway.connectionCount() > 0 || stack.usage.inFlight() > 0)) await new Promise((r) => setTimeout(r, 50));
    await stack?.close();
    stack = undefined;
    return null;
  },
  async postStart(req) {
    const kind = req.client as 'hermes' | 'sdk';
    const endpoint = stack!.endpoints.management;
    const concurrency = Number(req.concurrency ?? 32);
    const maxSockets = Number(req.maxSockets ?? concurrency);
    const client =
      kind === 'hermes'
        ? await createManagementClient({ region: stack!.region, endpoint, maxSockets })
        : new ApiGatewayManagementApiClient({
            region: stack!.region,
            endpoint,
            credentials: LOCAL_CREDENTIALS,
            maxAttempts: 1,
            requestHandler: new NodeHttpHandler({ httpAgent: new http.Agent({ keepAlive: true, maxSockets }) }),
          });
    loop = { client, concurrency, queue: [], workers: 0, posted: 0, failed: 0, errors: [] };
    return null;
  },
  async post(req) {
    const l = loop!;
    for (const m of req.messages as QueueMessage[]) {
      l.queue.push({ payload: encodeFrame(buildFrame({ ...m })), ids: await roomConnections(m.room_id!), at: 0 });
    }
    while (l.workers < l.concurrency && l.queue.length) void postWorker(l);
    return { failed: [] };
  },
  async postStats() {
    return { posted: loop?.posted ?? 0, failed: loop?.failed ?? 0, errors: loop?.errors ?? [] };
  },
  async wsStart() {
    return startBareWs();
  },
  async wsBroadcast(req) {
    void broadcast(req.messages as QueueMessage[]);
    return { failed: [] };
  },
  async wsStop() {
    if (bare) {
      for (const ws of bare.wss.clients) ws.terminate();
      bare.wss.close();
      await new Promise((r) => bare!.server.close(r));
      bare = undefined;
    }
    return null;
  },
  async profileStart() {
    profileStop = await startProfile();
    return null;
  },
  async profileStop() {
    const stop = profileStop;
    profileStop = undefined;
    return stop ? stop() : null;
  },
  async cpu() {
    return process.cpuUsage();
  },
  /**
   * Sockets the gateway holds, rows the connections table has, and entries the room index
   * returns: all three must agree, or fan-out misses someone. (dynalite's index keys keep only
   * 24 bits of a hash of the table key, so a room of thousands loses an entry now and then.)
   */
  async connectionCounts() {
    const deps = { ddb: stack!.ddb, table: stack!.names.connectionsTable };
    const rows = await listConnections(deps);
    const ids = new Set(rows.map((r) => r.connection_id));
    const open = stack!.gateway.connectionIds();
    const indexed = new Set<string>();
    for (const room of new Set(rows.map((r) => r.room_id))) for (const id of await listRoomConnectionIds(deps, room)) indexed.add(id);
    return {
      gateway: open.length,
      rows: ids.size,
      openWithoutRow: open.filter((id) => !ids.has(id)),
      rowsMissingFromRoomIndex: rows.filter((r) => !indexed.has(r.connection_id)).map((r) => r.connection_id),
    };
  },
  async pollerStats() {
    return stack?.poller.stats() ?? null;
  },
  /** What the stack's traffic would be billed for so far (src/local/usage.ts). */
  async usage() {
    return stack!.usage.snapshot();
  },
  /**
   * The gateway drops every socket (1001) and comes back on the same port: a reconnect storm;
   * with `downMs` (the history fault run) it stays down that long first.
   */
  async restartGateway(req) {
    const downMs = req.downMs === undefined ? undefined : Number(req.downMs);
    await stack!.restartGateway(downMs === undefined ? {} : { whileDown: () => new Promise((r) => setTimeout(r, downMs)) });
    return null;
  },
  /** A function's environment, as the stack gives it (for a probe that runs the bundle itself). */
  async functionEnv(req) {
    return stack!.functions[req.handler as HandlerName].config.env;
  },
  /** Messages still on the queue, visible or in flight (a record being retried is in flight). */
  async queueCounts() {
    const res = await stack!.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: stack!.queues.queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
    );
    return { visible: Number(res.Attributes?.ApproximateNumberOfMessages ?? 0), inFlight: Number(res.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0) };
  },
  async exit() {
    setImmediate(() => process.exit(0));
    return null;
  },
};

process.on('message', (req: Request) => {
  const op = ops[req.op];
  const run = op ? op(req) : Promise.reject(new Error(`unknown op ${req.op}`));
  run.then(
    (result) => process.send!({ id: req.id, ok: true, result }),
    (err: Error) => process.send!({ id: req.id, ok: false, error: `${err.name}: ${err.message}` }),
  );
});
// The parent going away ends the child: the bench must stop by itself.
process.on('disconnect', () => process.exit(0));
process.send!({ ready: true });
