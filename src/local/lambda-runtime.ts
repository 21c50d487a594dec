/**
 * Lambda, locally: the handler bundles that `hermes deploy` uploads (dist/lambdas/<name>/
 * index.mjs), imported in-process and invoked with an AWS-shaped context and a timeout.
 * Each bundle exports `createHandler(env, overrides)`; the environment a function would get on
 * AWS is passed in instead of read from process.env, and its JSON log lines go to the `logger`
 * given here instead of stdout, so several stacks can share a process.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Env } from '../core/handler-env.js';
import type { HandlerName } from '../stack/definition.js';
import type { LineLogger } from '../core/handler-log.js';
import { HermesError } from '../core/errors.js';

export const DEFAULT_BUNDLE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/lambdas');

export interface LocalFunction {
  name: string;
  /** Its configuration, as GetFunctionConfiguration would report it. */
  config: { timeoutMs: number; memoryMb: number; env: Readonly<Env> };
  invoke(event: unknown): Promise<unknown>;
  /**
   * Load the bundle again, as a new version (`hermes dev` after a rebuild): the next invocation
   * runs it, the ones already running finish on the module they started with. `version` names
   * the new contents (the import URL carries it, as Node caches a module per URL).
   */
  reload(version: string): Promise<void>;
}

export class LambdaTimeoutError extends Error {
  override name = 'Sandbox.Timedout';
}

export async function loadFunction(
  handler: HandlerName,
  opts: { functionName: string; bundleDir?: string; env: Env; logger: LineLogger; timeoutMs: number; memoryMb?: number; region: string },
): Promise<LocalFunction> {
  const file = path.join(opts.bundleDir ?? DEFAULT_BUNDLE_DIR, handler, 'index.mjs');
  if (!existsSync(file)) {
    throw new HermesError(`The Lambda bundle ${file} is missing.`, { hint: 'Run `npm run build` (npm ci runs it too).' });
  }
  const instantiate = async (url: string) => {
    const mod = (await import(url)) as {
      createHandler(env: Env, overrides: { logger: LineLogger }): (event: unknown, context?: unknown) => Promise<unknown>;
    };
    return mod.createHandler(opts.env, { logger: opts.logger });
  };
  const href = pathToFileURL(file).href;
  let current = await instantiate(href);
  return {
    name: opts.functionName,
    config: { timeoutMs: opts.timeoutMs, memoryMb: opts.memoryMb ?? 256, env: { ...opts.env } },
    async reload(version) {
      current = await instantiate(`${href}?v=${encodeURIComponent(version)}`);
    },
    async invoke(event) {
      const fn = current;
      const started = Date.now();
      const context = {
        functionName: opts.functionName,
        functionVersion: '$LATEST',
        invokedFunctionArn: `arn:aws:lambda:${opts.region}:123456789012:function:${opts.functionName}`,
        memoryLimitInMB: String(opts.memoryMb ?? 256),
        awsRequestId: randomUUID(),
        logGroupName: `/aws/lambda/${opts.functionName}`,
        logStreamName: 'local',
        callbackWaitsForEmptyEventLoop: true,
        getRemainingTimeInMillis: () => Math.max(0, opts.timeoutMs - (Date.now() - started)),
      };
      let timer: NodeJS.Timeout | undefined;
      try {
        return await Promise.race([
          fn(event, context),
          new Promise((_, reject) => {
            timer = setTimeout(
              () => reject(new LambdaTimeoutError(`Task timed out after ${(opts.timeoutMs / 1000).toFixed(2)} seconds`)),
              opts.timeoutMs,
            );
          }),
        ]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
