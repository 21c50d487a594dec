import { readFileSync } from 'node:fs';
// dist/cli.mjs and src/cli/version.ts are both two levels below the package root... but the
// bundle is one level deep, so look in both places.
function readVersion(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      return (JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { version: string }).version;
    } catch {
      /* try the next */
    }
  }
  return '0.0.0';
}
export const VERSION = readVersion();

/** What `hermes --version` prints: the version, or with --json one object. */
export function versionLine(json: boolean): string {
  return json ? `${JSON.stringify({ version: VERSION })}\n` : `${VERSION}\n`;
}
