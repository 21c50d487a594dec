#!/usr/bin/env node
// One build for everything that runs outside the TypeScript sources:
// - the Lambda bundles (one minified ESM file per handler) that `hermes deploy` zips and
//   `hermes dev` imports, so the local stack runs exactly what AWS runs;
// - the CLI bundle behind bin/hermes (heavy modules stay as lazy dynamic imports);
// - the browser client library.
import { build } from 'esbuild';
import { existsSync, cpSync, writeFileSync, mkdirSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const quiet = process.argv.includes('--quiet');

/**
 * The functions to bundle, from the stage definition (src/stack/definition.ts, pure data):
 * compiled in memory by esbuild and imported, so the list has one home.
 */
async function stageFunctions() {
  const out = await build({
    absWorkingDir: root,
    entryPoints: ['src/stack/definition.ts'],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    logLevel: 'warning',
  });
  const mod = await import(`data:text/javascript;base64,${Buffer.from(out.outputFiles[0].contents).toString('base64')}`);
  return mod.FUNCTIONS;
}

// Bundles must be byte-for-byte reproducible so deploy can compare CodeSha256.
const lambdaBanner = "import { createRequire as __hermesCreateRequire } from 'node:module'; const require = __hermesCreateRequire(import.meta.url);";

/** The client's .d.mts in a child process: loading TypeScript takes as long as all the bundling. */
function declarationsInParallel() {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--types-only'], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error('client types failed (see above)'))));
  });
}

async function main() {
  const started = Date.now();
  const hasClient = existsSync(path.join(root, 'client/hermes-client.ts'));
  // `npm ci` (prepare) skips the client's .d.mts: loading TypeScript would add about a second
  // to getting from a clone to a running stack; `npm run build` and `npm test` emit it.
  const types = hasClient && !process.argv.includes('--no-types') ? declarationsInParallel() : Promise.resolve();
  const functions = await stageFunctions();
  const lambdas = build({
    absWorkingDir: root,
    entryPoints: Object.fromEntries(Object.entries(functions).map(([name, fn]) => [`${name}/index`, fn.source])),
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

  const cli = build({
    absWorkingDir: root,
    // The local Lambda instance (src/local/lambda-runtime.ts starts it as a worker thread by file).
    entryPoints: { cli: 'src/cli/main.ts', 'local/lambda-worker': 'src/local/lambda-worker.ts' },
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

  const client = hasClient &&
    build({
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
  await Promise.all([lambdas, cli, client, types]);
  // The demo page `hermes dev` serves, next to the bundles that serve it (src/local/demo.ts).
  const demoDir = path.join(root, 'src/local/demo');
  if (existsSync(demoDir)) cpSync(demoDir, path.join(root, 'dist/demo'), { recursive: true });
  if (!quiet) process.stderr.write(`hermes: built lambdas, CLI and client in ${Date.now() - started} ms\n`);
}

/**
 * dist/client/hermes-client.d.mts, the types that go with the bundle (.d.mts is what
 * TypeScript looks for next to an .mjs file), and protocol.d.ts, the wire types it re-exports
 * from client/protocol.ts (which the bundle inlines). TypeScript is a dev dependency: without it
 * (an install that skipped dev dependencies) the bundle is still built, without types.
 */
async function clientDeclarations() {
  let ts;
  try {
    ts = (await import('typescript')).default;
  } catch {
    process.stderr.write('hermes: typescript is not installed; dist/client has no .d.mts\n');
    return;
  }
  const options = {
    declaration: true,
    emitDeclarationOnly: true,
    strict: true,
    target: ts.ScriptTarget.ES2020,
    module: ts.ModuleKind.ESNext,
    lib: ['lib.es2020.d.ts', 'lib.dom.d.ts'],
    types: [],
    skipLibCheck: true,
    // Emit only: `npm test` type-checks the whole project (tsc --noEmit) anyway.
    noCheck: true,
  };
  const program = ts.createProgram([path.join(root, 'client/hermes-client.ts')], options);
  // Each emitted declaration, by the name it gets in dist/client/.
  const outputs = { 'hermes-client.d.ts': 'hermes-client.d.mts', 'protocol.d.ts': 'protocol.d.ts' };
  const texts = {};
  const result = program.emit(undefined, (file, data) => {
    const name = outputs[path.basename(file)];
    if (name) texts[name] = data;
  });
  const problems = result.diagnostics;
  const missing = Object.values(outputs).filter((name) => texts[name] === undefined);
  if (problems.length || missing.length) {
    const host = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => '\n' };
    throw new Error(`client types: ${ts.formatDiagnostics(problems, host) || `${missing.join(', ')} not emitted`}`);
  }
  mkdirSync(path.join(root, 'dist/client'), { recursive: true });
  for (const [name, text] of Object.entries(texts)) writeFileSync(path.join(root, 'dist/client', name), text);
}

(process.argv.includes('--types-only') ? clientDeclarations() : main()).catch((err) => {
  process.stderr.write(`hermes: build failed: ${err.message}\n`);
  process.exit(1);
});
