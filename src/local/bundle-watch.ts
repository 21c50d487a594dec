/**
 * `hermes dev` serves the code you just wrote. Before the stack starts, the Lambda bundles are
 * rebuilt when a source they were built from is newer; while it runs, every save rebuilds them
 * and each function whose bundle changed loads the new one in place, like a new Lambda version:
 * the gateway and its WebSocket connections stay, the next invocation runs the new code, and a
 * build error leaves the previous code serving. The build is the project's own
 * (scripts/build.mjs, the same options `npm run build` and `hermes deploy` use), so dev and
 * deploy run the same bundles; an install without the sources serves the bundles it shipped.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { HandlerName } from '../stack/definition.js';
import type { LocalFunction } from './lambda-runtime.js';

export interface BuildOutcome {
  /** The bundles whose bytes changed, each with the content hash naming its new version. */
  changed?: Array<{ handler: HandlerName; version: string }>;
  /** esbuild's messages as it prints them (file:line, the code, a caret). */
  errors?: string;
  warnings?: string;
  ms: number;
}

/** What scripts/build.mjs exports for dev. */
export interface ProjectBuild {
  root: string;
  staleSources(outdir: string): string[];
  buildLambdas(outdir: string): Promise<BuildOutcome>;
  watchLambdas(outdir: string, onBuild: (outcome: BuildOutcome) => void): Promise<() => Promise<void>>;
}

/**
 * The build of the project at `root` when its sources are there (a clone), else undefined: an
 * installed package has its bundles but neither lambdas/ nor the build script.
 */
export async function projectBuild(root: string): Promise<ProjectBuild | undefined> {
  const script = path.join(root, 'scripts', 'build.mjs');
  if (!existsSync(script) || !existsSync(path.join(root, 'lambdas'))) return undefined;
  const mod = (await import(pathToFileURL(script).href)) as Omit<ProjectBuild, 'root'>;
  return { root, staleSources: mod.staleSources, buildLambdas: mod.buildLambdas, watchLambdas: mod.watchLambdas };
}

export type ReloadEvent =
  | { kind: 'reloaded'; handlers: HandlerName[]; buildMs: number; reloadMs: number; warnings?: string }
  | { kind: 'failed'; errors: string; buildMs: number }
  | { kind: 'reload-failed'; handler: HandlerName; message: string };

/**
 * Rebuild on every save and swap the functions whose bundle changed. Reloads run one build at a
 * time, in order, so a quick second save never lands before the first. Resolves to a stop.
 */
export async function watchAndReload(
  build: ProjectBuild,
  bundleDir: string,
  functions: Record<HandlerName, LocalFunction>,
  onEvent: (e: ReloadEvent) => void,
): Promise<() => Promise<void>> {
  let queue = Promise.resolve();
  const apply = async (outcome: BuildOutcome) => {
    if (outcome.errors !== undefined) return onEvent({ kind: 'failed', errors: outcome.errors, buildMs: outcome.ms });
    const changed = (outcome.changed ?? []).filter((c) => functions[c.handler]);
    if (changed.length === 0) return; // a save that did not change any bundle (a comment, a type)
    const started = Date.now();
    const reloaded: HandlerName[] = [];
    for (const { handler, version } of changed) {
      try {
        await functions[handler].reload(version);
        reloaded.push(handler);
      } catch (err) {
        // A bundle that builds but throws when loaded (a top-level error): keep the old one.
        onEvent({ kind: 'reload-failed', handler, message: (err as Error).message });
      }
    }
    if (reloaded.length) {
      onEvent({ kind: 'reloaded', handlers: reloaded, buildMs: outcome.ms, reloadMs: Date.now() - started, ...(outcome.warnings ? { warnings: outcome.warnings } : {}) });
    }
  };
  const stop = await build.watchLambdas(bundleDir, (outcome) => {
    queue = queue.then(() => apply(outcome));
  });
  return async () => {
    await stop();
    await queue;
  };
}

/** The changed sources in a few words: the first three, and how many more. */
export function describeSources(files: string[]): string {
  const shown = files.slice(0, 3).join(', ');
  return files.length > 3 ? `${shown} and ${files.length - 3} more` : shown;
}
