/**
 * The local stage's handler logs, kept as Lambda keeps them in CloudWatch Logs: every raw log
 * line (Powertools JSON, with the function name and the request id) appended to an NDJSON file
 * of the state dir, mode 0600, so `hermes logs` reads the local stage as it reads a deployed
 * one. Bounded: past `maxBytes` the file becomes `<file>.1` (the one before is dropped).
 */
import { appendFileSync, chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import path from 'node:path';

export const LOG_FILE_MAX_BYTES = 8 * 1024 * 1024;

export function handlerLogFile(stateDir: string): string {
  return path.join(stateDir, 'logs', 'handlers.ndjson');
}

export function createLogWriter(file: string, maxBytes = LOG_FILE_MAX_BYTES): (line: string) => void {
  mkdirSync(path.dirname(file), { recursive: true });
  let size = existsSync(file) ? statSync(file).size : 0;
  return (line) => {
    const text = `${line.replace(/\n/g, ' ')}\n`;
    if (size + text.length > maxBytes && size > 0) {
      renameSync(file, `${file}.1`);
      size = 0;
    }
    appendFileSync(file, text, { mode: 0o600 });
    if (size === 0) chmodSync(file, 0o600);
    size += Buffer.byteLength(text);
  };
}

/** The lines kept (the older file first), from byte `offset` of the current file on. */
export function readLogLines(file: string, offset = 0): { lines: string[]; offset: number } {
  const lines: string[] = [];
  if (offset === 0 && existsSync(`${file}.1`)) lines.push(...readFileSync(`${file}.1`, 'utf8').split('\n'));
  if (!existsSync(file)) return { lines: lines.filter(Boolean), offset: 0 };
  const buf = readFileSync(file);
  // A file smaller than the offset was rotated since: read it from its start.
  const from = buf.length < offset ? 0 : offset;
  const text = buf.subarray(from).toString('utf8');
  const end = text.lastIndexOf('\n') + 1; // a line still being written waits for the next read
  lines.push(...text.slice(0, end).split('\n'));
  return { lines: lines.filter(Boolean), offset: from + Buffer.byteLength(text.slice(0, end)) };
}
