/**
 * The state dir's files that only their owner may read (the stage records, the local signing
 * keys, the saved queues) are written whole: to a temporary file of mode 0600, renamed over the
 * old one, so a reader never sees half a file and the mode never lapses.
 */
import { chmodSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export function writePrivateFile(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600); // a leftover temporary file keeps its own mode through writeFileSync
  renameSync(tmp, file);
}
