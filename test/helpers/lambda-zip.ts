/**
 * A Lambda zip, run the way the Node.js runtime runs it: unpacked into a task root, the
 * handler string (`index.handler`) resolved to a file (`index.mjs`, `.js` or `.cjs`) and an
 * export, and invoked in a worker thread whose `process.env` is exactly the environment given
 * (the function's configured variables plus what Lambda itself sets), so each function sees
 * only its own configuration and credentials, as on AWS.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { inflateRawSync } from 'node:zlib';

/** The files of a zip archive (stored or deflated entries), by path. */
export function unzip(zip: Buffer): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  // End of central directory: the last 0x06054b50 signature.
  let eocd = zip.length - 22;
  while (eocd >= 0 && zip.readUInt32LE(eocd) !== 0x06054b50) eocd--;
  if (eocd < 0) throw new Error('not a zip archive');
  const entries = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  for (let i = 0; i < entries; i++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error('corrupt zip central directory');
    const method = zip.readUInt16LE(at + 10);
    const compressed = zip.readUInt32LE(at + 20);
    const nameLen = zip.readUInt16LE(at + 28);
    const extraLen = zip.readUInt16LE(at + 30);
    const commentLen = zip.readUInt16LE(at + 32);
    const local = zip.readUInt32LE(at + 42);
    const name = zip.subarray(at + 46, at + 46 + nameLen).toString('utf8');
    const dataAt = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const data = zip.subarray(dataAt, dataAt + compressed);
    if (!name.endsWith('/')) files.set(name, method === 0 ? Buffer.from(data) : method === 8 ? inflateRawSync(data) : Buffer.alloc(0));
    if (method !== 0 && method !== 8) throw new Error(`zip entry ${name} uses compression method ${method}`);
    at += 46 + nameLen + extraLen + commentLen;
  }
  return files;
}

/** `index.handler` → the file the Node.js runtime would load from the task root, and the export. */
export function resolveHandler(taskRoot: string, handler: string): { file: string; exportName: string } {
  const dot = handler.lastIndexOf('.');
  if (dot <= 0) throw new Error(`handler "${handler}" is not <module>.<export>`);
  const modulePath = handler.slice(0, dot);
  const exportName = handler.slice(dot + 1);
  for (const ext of ['.js', '.mjs', '.cjs']) {
    const file = path.join(taskRoot, modulePath + ext);
    if (existsSync(file)) return { file, exportName };
  }
  throw new Error(`handler "${handler}": the zip has no ${modulePath}.js, .mjs or .cjs`);
}

const BOOTSTRAP = `
const { parentPort, workerData } = require('node:worker_threads');
const { pathToFileURL } = require('node:url');
(async () => {
  let handler;
  try {
    const mod = await import(pathToFileURL(workerData.file).href);
    handler = mod[workerData.exportName];
    if (typeof handler !== 'function') throw new Error(workerData.file + ' exports no function "' + workerData.exportName + '"');
  } catch (e) {
    parentPort.postMessage({ ready: false, error: String((e && e.message) || e) });
    return;
  }
  parentPort.postMessage({ ready: true });
  parentPort.on('message', async ({ id, event, context }) => {
    const deadline = Date.now() + context.timeoutMs;
    const ctx = { ...context, getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()) };
    try {
      parentPort.postMessage({ id, result: await handler(event, ctx) });
    } catch (e) {
      parentPort.postMessage({ id, error: { name: e && e.name, message: e && e.message } });
    }
  });
})();
`;

export interface RunningFunction {
  name: string;
  invoke(event: unknown): Promise<unknown>;
  /** Everything the handler wrote to stdout/stderr (its JSON log lines). */
  logs: string[];
  close(): Promise<void>;
}

export interface RunOptions {
  name: string;
  zip: Buffer;
  handler: string;
  env: Record<string, string>;
  timeoutSeconds: number;
  memoryMb: number;
  region: string;
  account: string;
}

export async function runFunction(opts: RunOptions): Promise<RunningFunction> {
  const taskRoot = mkdtempSync(path.join(tmpdir(), `hermes-task-${opts.name}-`));
  for (const [name, data] of unzip(opts.zip)) {
    const file = path.join(taskRoot, name);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, data);
  }
  let resolved: { file: string; exportName: string };
  try {
    resolved = resolveHandler(taskRoot, opts.handler);
  } catch (err) {
    rmSync(taskRoot, { recursive: true, force: true });
    throw new Error(`function ${opts.name}: ${(err as Error).message}`);
  }
  const worker = new Worker(BOOTSTRAP, { eval: true, env: opts.env, workerData: resolved, stdout: true, stderr: true });
  const logs: string[] = [];
  for (const stream of [worker.stdout, worker.stderr]) {
    let rest = '';
    stream.on('data', (d: Buffer) => {
      const lines = (rest + d.toString()).split('\n');
      rest = lines.pop() ?? '';
      logs.push(...lines.filter(Boolean));
    });
  }
  const pending = new Map<string, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  const ready = new Promise<void>((resolve, reject) => {
    worker.once('error', reject);
    worker.on('message', (m: { ready?: boolean; error?: { name?: string; message?: string } | string; id?: string; result?: unknown }) => {
      if (m.ready === true) return resolve();
      if (m.ready === false) return reject(new Error(`function ${opts.name}: ${String(m.error)}`));
      const p = pending.get(m.id!);
      if (!p) return;
      pending.delete(m.id!);
      clearTimeout(p.timer);
      if (m.error) p.reject(Object.assign(new Error((m.error as { message?: string }).message ?? 'handler failed'), { name: (m.error as { name?: string }).name ?? 'Error' }));
      else p.resolve(m.result);
    });
  });
  const close = async () => {
    await worker.terminate();
    rmSync(taskRoot, { recursive: true, force: true });
  };
  try {
    await ready;
  } catch (err) {
    await close();
    throw err;
  }
  return {
    name: opts.name,
    logs,
    invoke(event) {
      const id = randomUUID();
      const timeoutMs = opts.timeoutSeconds * 1000;
      const context = {
        functionName: opts.name,
        functionVersion: '$LATEST',
        invokedFunctionArn: `arn:aws:lambda:${opts.region}:${opts.account}:function:${opts.name}`,
        memoryLimitInMB: String(opts.memoryMb),
        awsRequestId: id,
        logGroupName: `/aws/lambda/${opts.name}`,
        logStreamName: 'moto-run',
        callbackWaitsForEmptyEventLoop: true,
        timeoutMs,
      };
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(Object.assign(new Error(`Task timed out after ${opts.timeoutSeconds}.00 seconds`), { name: 'Sandbox.Timedout' }));
        }, timeoutMs);
        pending.set(id, { resolve, reject, timer });
        worker.postMessage({ id, event, context });
      });
    },
    close,
  };
}
