/**
 * How the user can run hermes from their shell: `hermes` when a hermes is on their PATH (a
 * global install, `npm link`), else `npx hermes` (a clone after `npm ci`). Hints and the
 * `hermes dev` banner print commands this way, so what they suggest works when pasted.
 */
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';

type Env = Record<string, string | undefined>;

const cache = new Map<string, string>();

/** `hermes` or `npx hermes`. */
export function hermesCommand(env: Env, platform: NodeJS.Platform = process.platform): string {
  const key = `${platform}\0${env.PATH ?? ''}\0${env.npm_command ?? ''}`;
  let command = cache.get(key);
  if (command === undefined) {
    command = hermesOnPath(env, platform) ? 'hermes' : 'npx hermes';
    cache.set(key, command);
  }
  return command;
}

/** Every command quoted as `hermes …` in a message or hint, as the user can run it. */
export function runnable(text: string, env: Env): string {
  const command = hermesCommand(env);
  return command === 'hermes' ? text : text.replaceAll('`hermes ', `\`${command} `);
}

function hermesOnPath(env: Env, platform: NodeJS.Platform): boolean {
  const names = platform === 'win32' ? ['hermes.cmd', 'hermes.exe', 'hermes'] : ['hermes'];
  // npx and `npm run` put node_modules/.bin directories (and npm's node-gyp-bin) in front of
  // PATH for the command they run: a hermes found only there is not one the user's shell has.
  const underNpm = env.npm_command !== undefined;
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const npmAdded = (path.basename(dir) === '.bin' && path.basename(path.dirname(dir)) === 'node_modules') || dir.includes('node-gyp-bin');
    if (underNpm && npmAdded) continue;
    for (const name of names) {
      const file = path.join(dir, name);
      if (existsSync(file) && isHermes(file, platform)) return true;
    }
  }
  return false;
}

/** A `hermes` that is this project's executable (not, say, the JavaScript engine of the same name). */
function isHermes(file: string, platform: NodeJS.Platform): boolean {
  if (platform === 'win32') return true; // npm's .cmd shims do not point at the package
  try {
    const pkg = path.join(path.dirname(path.dirname(realpathSync(file))), 'package.json');
    return (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'hermes';
  } catch {
    return false;
  }
}
