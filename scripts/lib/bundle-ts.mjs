// The TypeScript behind the benchmark and fault scripts, bundled with esbuild like the CLI and
// imported: one place for how, so the scripts that run it stay plain Node.
import { build } from 'esbuild';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** Lets bundled code `require` the CommonJS dependencies it keeps external. */
export const REQUIRE_BANNER = "import { createRequire as __scriptCreateRequire } from 'node:module'; const require = __scriptCreateRequire(import.meta.url);";

/** Bundles `entryPoints` ({name: source}) into `outdir` as `<name>.mjs`; dependencies stay in node_modules. */
export async function bundleTs(root, entryPoints, outdir) {
  await build({
    absWorkingDir: root,
    entryPoints,
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    packages: 'external',
    banner: { js: REQUIRE_BANNER },
    logLevel: 'warning',
  });
}

/** Bundles one entry and imports it. */
export async function importTs(root, name, source, outdir) {
  await bundleTs(root, { [name]: source }, outdir);
  return import(pathToFileURL(path.join(outdir, `${name}.mjs`)).href);
}
