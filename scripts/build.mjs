#!/usr/bin/env node
// One build for everything that runs outside the TypeScript sources:
// - the Lambda bundles (one minified ESM file per handler) that `hermes deploy` zips and
//   `hermes dev` imports, so the local stack runs exactly what AWS runs;
// - the CLI bundle behind bin/hermes (heavy modules stay as lazy dynamic imports);
// - the browser client library.
import { build } from 'esbuild';
import { readdirSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const quiet = process.argv.includes('--quiet');

export const HANDLERS = ['authorizer', 'connect', 'disconnect', 'send-message', 'default'];

// Bundles must be byte-for-byte reproducible so deploy can compare CodeSha256.
const lambdaBanner = "import { createRequire as __hermesCreateRequire } from 'node:module'; const require = __hermesCreateRequire(import.meta.url);";

async function main() {
  const started = Date.now();
  await build({
    absWorkingDir: root,
    entryPoints: Object.fromEntries(HANDLERS.map((h) => [`${h}/index`, `lambdas/${h}.ts`])),
    outdir: 'dist/lambdas',
    outExtension: { '.js': '.mjs' },
    bundle: true,
    minify: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    banner: { js: lambdaBanner },
    legalComments: 'none',
    logLevel: 'warning',
  });

  await build({
    absWorkingDir: root,
    entryPoints: { cli: 'src/cli/main.ts' },
    outdir: 'dist',
    outExtension: { '.js': '.mjs' },
    bundle: true,
    splitting: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    // Dependencies stay in node_modules: the CLI is run from a checkout or an npm install.
    packages: 'external',
    banner: { js: lambdaBanner },
    logLevel: 'warning',
    chunkNames: 'chunks/[name]-[hash]',
  });

  if (existsSync(path.join(root, 'client/hermes-client.ts'))) {
    await build({
      absWorkingDir: root,
      entryPoints: { 'hermes-client': 'client/hermes-client.ts' },
      outdir: 'dist/client',
      outExtension: { '.js': '.mjs' },
      bundle: true,
      platform: 'neutral',
      target: 'es2020',
      format: 'esm',
      logLevel: 'warning',
    });
  }
  if (!quiet) process.stderr.write(`hermes: built lambdas, CLI and client in ${Date.now() - started} ms\n`);
}

main().catch((err) => {
  process.stderr.write(`hermes: build failed: ${err.message}\n`);
  process.exit(1);
});
