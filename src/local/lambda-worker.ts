/**
 * One local Lambda instance: a worker thread that imports one handler bundle and runs one
 * invocation at a time, as a Lambda execution environment does (src/local/lambda-runtime.ts
 * owns the pool and the timeout). Built to dist/local/lambda-worker.mjs; it imports nothing of
 * hermes, so a worker costs the bundle and no more.
 *
 * Messages in:  { id, event, context: { awsRequestId, deadline, … } }
 * Messages out: { id, ok: true, result } | { id, ok: false, error: { name, message, stack } }
 *               | { log: 'info' | 'warn' | 'error', line }   (the handler's JSON log lines)
 */
import { parentPort, workerData } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';

export interface WorkerData {
  file: string;
  env: Record<string, string | undefined>;
}

export interface InvokeMessage {
  id: number;
  event: unknown;
  context: {
    functionName: string;
    memoryLimitInMB: string;
    invokedFunctionArn: string;
    awsRequestId: string;
    /** Epoch ms when the invocation times out; getRemainingTimeInMillis counts down to it. */
    deadline: number;
  };
}

export type WorkerReply =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: { name: string; message: string; stack?: string } }
  | { log: 'info' | 'warn' | 'error'; line: string }
  | { ready: true };

type Handler = (event: unknown, context: unknown) => Promise<unknown>;

async function main(): Promise<void> {
  const port = parentPort!;
  const data = workerData as WorkerData;
  const post = (m: WorkerReply) => port.postMessage(m);
  const logger = {
    info: (line: unknown) => post({ log: 'info', line: String(line) }),
    warn: (line: unknown) => post({ log: 'warn', line: String(line) }),
    error: (line: unknown) => post({ log: 'error', line: String(line) }),
  };
  const mod = (await import(pathToFileURL(data.file).href)) as { createHandler(env: unknown, o: unknown): Handler };
  const fn = mod.createHandler(data.env, { logger });
  port.on('message', (m: InvokeMessage) => {
    const { deadline, ...rest } = m.context;
    const context = {
      ...rest,
      functionVersion: '$LATEST',
      logGroupName: `/aws/lambda/${rest.functionName}`,
      logStreamName: 'local',
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    };
    Promise.resolve()
      .then(() => fn(m.event, context))
      .then(
        (result) => post({ id: m.id, ok: true, result }),
        (err: unknown) => {
          const e = err instanceof Error ? err : new Error(String(err));
          post({ id: m.id, ok: false, error: { name: e.name, message: e.message, stack: e.stack } });
        },
      )
      .catch((err: Error) => {
        // The result could not be cloned to the main thread (a function, a cycle…).
        post({ id: m.id, ok: false, error: { name: 'Runtime.MarshalError', message: `Unable to marshal response: ${err.message}` } });
      });
  });
  post({ ready: true });
}

if (parentPort) void main();
