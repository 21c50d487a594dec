/** `hermes config show`: every resolved setting and where it came from, secrets redacted. */
import type { Register } from '../runner.js';

export const register: Register = (program, action) => {
  const config = program.command('config').description('inspect resolved configuration');
  config
    .command('show')
    .description('show every setting, `hermes dev`\'s included, its value and where it came from (flag, environment, file, stack, default)')
    .action(
      action(async (ctx) => {
        const [{ describeConfig }, { resolveDevSettings }] = await Promise.all([
          import('../../config/resolve.js'),
          import('../../config/dev-settings.js'),
        ]);
        const rows = describeConfig(ctx.config(), resolveDevSettings({}, ctx.io.env, ctx.io.cwd));
        const width = Math.max(...Object.keys(rows).map((k) => k.length));
        const text = Object.entries(rows)
          .map(([k, r]) => `${k.padEnd(width)}  ${r.value === undefined ? ctx.c.dim('(unset)') : String(r.value)}  ${ctx.c.dim(`${r.source}${r.from ? `: ${r.from}` : ''}`)}`)
          .join('\n');
        return { data: rows, text };
      }),
    );
};
