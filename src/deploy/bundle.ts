/**
 * The code deploy uploads: the project's build (scripts/build.mjs, the same esbuild run that
 * produces the bundles `hermes dev` imports) and one zip per handler holding `index.mjs`.
 * The zip is deterministic (fixed timestamp, mode and order), so its SHA-256 only changes when
 * the bundle does, and comparing it with Lambda's CodeSha256 tells which functions changed.
 */
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { HANDLER_NAMES, type HandlerName } from '../stack/definition.js';
import { HermesError } from '../core/errors.js';

export interface Artifact {
  zip: Buffer;
  /** base64 SHA-256 of the zip, as Lambda reports CodeSha256. */
  sha256: string;
  bundleBytes: number;
}

const FIXED_MTIME = new Date('2000-01-01T00:00:00Z');

/** The checkout or installed package this module belongs to (works from src/ and from dist/). */
export function projectRoot(from = path.dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'lambdas'))) return dir;
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'dist', 'lambdas'))) return dir;
    if (path.dirname(dir) === dir) return path.resolve(from, '../..');
  }
}

export function defaultBundleDir(root = projectRoot()): string {
  return path.join(root, 'dist', 'lambdas');
}

/**
 * Run the project's build so the bundles match the sources; only the Lambda bundles, the one
 * thing deploy uploads. Skipped where there are no sources (an npm install of hermes).
 */
export async function buildBundles(root = projectRoot()): Promise<boolean> {
  const script = path.join(root, 'scripts', 'build.mjs');
  if (!existsSync(script) || !existsSync(path.join(root, 'lambdas'))) return false;
  try {
    await promisify(execFile)(process.execPath, [script, '--quiet', '--lambdas-only'], { cwd: root, maxBuffer: 16 * 1024 * 1024 });
    return true;
  } catch (err) {
    const stderr = String((err as { stderr?: string }).stderr ?? '').trim().split('\n').slice(-3).join(' ');
    throw new HermesError(`Bundling the handlers failed: ${stderr || (err as Error).message}`, {
      hint: 'Fix the error in lambdas/ or src/core/ (`npm run build` shows it in full), then deploy again.',
      cause: err,
    });
  }
}

export function zipBundle(code: Buffer): Promise<Buffer> {
  return import('yazl').then(
    ({ default: yazl }) =>
      new Promise<Buffer>((resolve, reject) => {
        const zip = new yazl.ZipFile();
        zip.addBuffer(code, 'index.mjs', { mtime: FIXED_MTIME, mode: 0o100644, compress: true });
        zip.end();
        const chunks: Buffer[] = [];
        zip.outputStream.on('data', (c: Buffer) => chunks.push(c));
        zip.outputStream.on('error', reject);
        zip.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
      }),
  );
}

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('base64');
}

export async function loadArtifacts(bundleDir: string): Promise<Record<HandlerName, Artifact>> {
  const out = {} as Record<HandlerName, Artifact>;
  for (const h of HANDLER_NAMES) {
    const file = path.join(bundleDir, h, 'index.mjs');
    if (!existsSync(file)) {
      throw new HermesError(`The Lambda bundle ${file} is missing.`, { hint: 'Run `npm run build`, or deploy without --no-build.' });
    }
    const code = await readFile(file);
    const zip = await zipBundle(code);
    out[h] = { zip, sha256: sha256(zip), bundleBytes: code.length };
  }
  return out;
}
