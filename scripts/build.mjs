#!/usr/bin/env node
// One build for everything that runs outside the TypeScript sources:
// - the Lambda bundles (one minified ESM file per handler) that `hermes deploy` zips and
//   `hermes dev` imports, so the local stack runs exactly what AWS runs;
// - the CLI bundle behind bin/hermes (heavy modules stay as lazy dynamic imports);
// - the browser client library;
// - the backend library (`import { openStage } from 'hermes'`, src/library/).
// `hermes dev` imports this module too (src/local/bundle-watch.ts): it rebuilds the Lambda
// bundles with these very options, when their sources are newer and on every save.
import { build, context, formatMessages } from 'esbuild';
import { createHash } from 'node:crypto';
import { existsSync, cpSync, writeFileSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const quiet = process.argv.includes('--quiet');
// `hermes deploy` uploads only the Lambda bundles: it skips the CLI, the client, the library and the types.
const lambdasOnly = process.argv.includes('--lambdas-only');
export const DEFAULT_LAMBDA_DIR = path.join(root, 'dist/lambdas');
/** What the last build of the Lambda bundles read: every source file, for the staleness check. */
const INPUTS_FILE = 'inputs.json';

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

/**
 * Options for a Node program bundled from the sources with its dependencies left in
 * node_modules (the CLI, the backend library, the benchmark suite): ESM, with `require` for the
 * CommonJS code it inlines.
 */
export function nodeProgramOptions(entryPoints, outdir) {
  return {
    absWorkingDir: root,
    entryPoints,
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    packages: 'external',
    banner: { js: lambdaBanner },
    logLevel: 'warning',
  };
}

/** The one set of esbuild options for the Lambda bundles, written to `outdir` by writeLambdas. */
function lambdaOptions(functions, outdir) {
  return {
    absWorkingDir: root,
    entryPoints: Object.fromEntries(Object.entries(functions).map(([name, fn]) => [`${name}/index`, fn.source])),
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    minify: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    banner: { js: lambdaBanner },
    legalComments: 'none',
    logLevel: 'silent',
    write: false,
    metafile: true,
  };
}

/** A reader (a dev stack, a test, deploy) sees the old file or the new one, never half of one. */
function writeByRename(file, contents) {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, contents);
  renameSync(tmp, file);
}

/**
 * Write a build's bundles, each only if its bytes changed and by rename, so a reader never sees
 * half a file; and the list of its inputs. Returns the handlers whose bundle changed, with the
 * content hash that names the new version.
 */
function writeLambdas(result, outdir, startedAt) {
  const changed = [];
  for (const file of result.outputFiles) {
    const handler = path.basename(path.dirname(file.path));
    const version = createHash('sha256').update(file.contents).digest('hex').slice(0, 12);
    let same = false;
    try {
      same = readFileSync(file.path).equals(Buffer.from(file.contents));
    } catch {}
    if (!same) {
      writeByRename(file.path, file.contents);
      changed.push({ handler, version });
    }
  }
  // The stage definition and this script decide what is built, so they count as inputs too.
  const inputs = [...new Set([...Object.keys(result.metafile.inputs), 'src/stack/definition.ts', 'scripts/build.mjs'])].sort();
  const outputs = result.outputFiles.map((f) => path.basename(path.dirname(f.path))).sort();
  writeByRename(path.join(outdir, INPUTS_FILE), `${JSON.stringify({ startedAt, outputs, inputs }, null, 1)}\n`);
  return changed;
}

/** esbuild's errors or warnings as it prints them (file:line, the code, a caret), without colour. */
async function messageText(messages, kind) {
  return messages.length ? (await formatMessages(messages, { kind, color: false })).join('').trimEnd() : '';
}

/**
 * The sources (relative to the project) changed since the bundles in `outdir` were built: any
 * input of the last build modified after that build started (a bundle whose bytes did not
 * change is not rewritten, so its own date says nothing). When there is no record of that
 * build, or a bundle is missing, one line saying so: rebuild to be sure.
 */
export function staleSources(outdir = DEFAULT_LAMBDA_DIR) {
  let record;
  try {
    record = JSON.parse(readFileSync(path.join(outdir, INPUTS_FILE), 'utf8'));
  } catch {
    return ['(no record of the last build)'];
  }
  for (const handler of record.outputs ?? []) {
    if (!existsSync(path.join(outdir, handler, 'index.mjs'))) return [`(the ${handler} bundle is missing)`];
  }
  return record.inputs.filter((rel) => {
    try {
      return statSync(path.join(root, rel)).mtimeMs > record.startedAt;
    } catch {
      return true; // removed or renamed since: the bundles may still hold it
    }
  });
}

/** Build the Lambda bundles into `outdir` once. Resolves to {changed, ms} or {errors, ms}. */
export async function buildLambdas(outdir = DEFAULT_LAMBDA_DIR) {
  const started = Date.now();
  try {
    const result = await build(lambdaOptions(await stageFunctions(), outdir));
    return { changed: writeLambdas(result, outdir, started), warnings: await messageText(result.warnings, 'warning'), ms: Date.now() - started };
  } catch (err) {
    return { errors: err.errors?.length ? await messageText(err.errors, 'error') : String(err.message ?? err), ms: Date.now() - started };
  }
}

/**
 * Rebuild the Lambda bundles into `outdir` whenever one of their inputs changes (esbuild's own
 * watcher, so exactly the files the bundles are made of), and tell `onBuild` what changed or
 * why the build failed. The first build runs at once. Resolves to a function that stops it.
 */
export async function watchLambdas(outdir, onBuild) {
  let started = Date.now();
  const report = {
    name: 'hermes-report',
    setup(b) {
      b.onStart(() => {
        started = Date.now();
      });
      b.onEnd(async (result) => {
        const ms = Date.now() - started;
        if (result.errors.length) return onBuild({ errors: await messageText(result.errors, 'error'), ms });
        onBuild({ changed: writeLambdas(result, outdir, started), warnings: await messageText(result.warnings, 'warning'), ms });
      });
    },
  };
  const ctx = await context({ ...lambdaOptions(await stageFunctions(), outdir), plugins: [report] });
  await ctx.watch();
  return () => ctx.dispose();
}

/** The .d.mts files in a child process: loading TypeScript takes as long as all the bundling. */
function declarationsInParallel() {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--types-only'], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error('the declarations failed (see above)'))));
  });
}

async function main() {
  const started = Date.now();
  const hasClient = existsSync(path.join(root, 'client/hermes-client.ts'));
  // `npm ci` (prepare) skips the .d.mts files: loading TypeScript would add about a second
  // to getting from a clone to a running stack; `npm run build` and `npm test` emit it.
  const types = hasClient && !lambdasOnly && !process.argv.includes('--no-types') ? declarationsInParallel() : Promise.resolve();
  const lambdas = buildLambdas(DEFAULT_LAMBDA_DIR).then((r) => {
    if (r.errors) throw new Error(`the Lambda bundles:\n${r.errors}`);
    if (r.warnings) process.stderr.write(`${r.warnings}\n`);
  });
  if (lambdasOnly) {
    await lambdas;
    if (!quiet) process.stderr.write(`hermes: built the lambdas in ${Date.now() - started} ms\n`);
    return;
  }

  // Dependencies stay in node_modules: the CLI is run from a checkout or an npm install.
  const cli = build({
    // The local Lambda instance too (src/local/lambda-runtime.ts starts it as a worker thread by file).
    ...nodeProgramOptions({ cli: 'src/cli/main.ts', version: 'src/cli/version.ts', 'local/lambda-worker': 'src/local/lambda-worker.ts' }, 'dist'),
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    metafile: true,
  }).then((result) => {
    // Each build names its chunks by hash and leaves the old ones, which a CLI process started
    // before it may still load. `--clean` (npm pack) drops them, so the package holds one build.
    if (!process.argv.includes('--clean')) return;
    const current = new Set(Object.keys(result.metafile.outputs).map((f) => path.resolve(root, f)));
    const chunks = path.join(root, 'dist/chunks');
    for (const name of readdirSync(chunks)) {
      if (!current.has(path.join(chunks, name))) rmSync(path.join(chunks, name));
    }
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
  // The backend library (`import … from 'hermes'`): like the CLI, its dependencies stay in
  // node_modules; one file, with no CLI module in it.
  const library = build(nodeProgramOptions({ hermes: 'src/library/index.ts' }, 'dist/lib'));
  await Promise.all([lambdas, cli, client, library, types]);
  // The demo page `hermes dev` serves, next to the bundles that serve it (src/local/demo.ts).
  const demoDir = path.join(root, 'src/local/demo');
  if (existsSync(demoDir)) cpSync(demoDir, path.join(root, 'dist/demo'), { recursive: true });
  if (!quiet) process.stderr.write(`hermes: built lambdas, CLI, client and library in ${Date.now() - started} ms\n`);
}

/**
 * The declarations that go with the bundles, from one TypeScript program (loading TypeScript is
 * the slow part):
 * - dist/client/hermes-client.d.mts (.d.mts is what TypeScript looks for next to an .mjs file)
 *   and protocol.d.ts, the wire types it re-exports from client/protocol.ts;
 * - dist/lib/hermes.d.mts for the backend library, re-exporting the declarations of the source
 *   files it is made of, kept under dist/lib/types/ with their layout.
 * TypeScript is a dev dependency: without it (an install that skipped dev dependencies) the
 * bundles are still built, without types.
 */
async function declarations() {
  let ts;
  try {
    ts = (await import('typescript')).default;
  } catch {
    process.stderr.write('hermes: typescript is not installed; dist/client and dist/lib have no .d.mts\n');
    return;
  }
  const typesDir = path.join(root, 'dist/lib/types');
  const options = {
    declaration: true,
    emitDeclarationOnly: true,
    strict: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
    types: ['node'],
    rootDir: root,
    outDir: typesDir,
    skipLibCheck: true,
    // Emit only: `npm test` type-checks the whole project (tsc --noEmit) anyway.
    noCheck: true,
  };
  const program = ts.createProgram([path.join(root, 'client/hermes-client.ts'), path.join(root, 'src/library/index.ts')], options);
  const texts = {};
  const result = program.emit(undefined, (file, data) => {
    texts[path.relative(typesDir, file)] = data;
  });
  // What the client's files are called next to its bundle.
  const clientFiles = { 'client/hermes-client.d.ts': 'hermes-client.d.mts', 'client/protocol.d.ts': 'protocol.d.ts' };
  const wanted = [...Object.keys(clientFiles), 'src/library/index.d.ts'];
  const missing = wanted.filter((name) => texts[name] === undefined);
  if (result.diagnostics.length || missing.length) {
    const host = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => '\n' };
    throw new Error(`types: ${ts.formatDiagnostics(result.diagnostics, host) || `${missing.join(', ')} not emitted`}`);
  }
  for (const [rel, name] of Object.entries(clientFiles)) writeByRename(path.join(root, 'dist/client', name), texts[rel]);
  for (const [rel, text] of Object.entries(texts)) {
    if (!rel.startsWith(`client${path.sep}hermes-client`)) writeByRename(path.join(typesDir, rel), text);
  }
  writeByRename(path.join(root, 'dist/lib/hermes.d.mts'), "export * from './types/src/library/index.js';\n");
}

// Run as a script (`node scripts/build.mjs`), not when `hermes dev` imports the functions above.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  (process.argv.includes('--types-only') ? declarations() : main()).catch((err) => {
    process.stderr.write(`hermes: build failed: ${err.message}\n`);
    process.exit(1);
  });
}
