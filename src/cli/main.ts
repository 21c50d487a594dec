/**
 * The `hermes` entry point. Command modules only declare their flags here; each one imports
 * its heavy dependencies (AWS SDK, core modules, servers) inside its action, so `--help` and
 * `--version` stay fast.
 */
import { Command, CommanderError, Option } from 'commander';
import type { Io } from './context.js';
import { makeAction, type RunnerState } from './runner.js';
import { COMMANDS } from './commands/index.js';
import { VERSION, versionLine } from './version.js';

interface Output {
  writeOut(s: string): void;
  writeErr(s: string): void;
}

export function buildProgram(state: RunnerState, output: Output): Command {
  const program = new Command('hermes')
    .description('Deploy, operate and run locally a serverless WebSocket notification service on AWS.')
    .version(VERSION, '-v, --version')
    .addOption(new Option('--stage <stage>', 'stage to act on (default: local, the `hermes dev` stack)'))
    .addOption(new Option('--region <region>', 'AWS region (default: AWS_REGION, then us-east-1)'))
    .addOption(new Option('--profile <profile>', 'AWS profile from ~/.aws/config'))
    .addOption(new Option('--endpoint-url <url>', 'send every AWS call to this endpoint (as the AWS CLI flag)'))
    .addOption(new Option('--state-dir <dir>', 'where the local stack and deployed stages are recorded (default: .hermes)'))
    .option('--json', 'print only JSON on stdout')
    .option('--debug', 'show stack traces and AWS request details on errors')
    // Inherited by every command registered below: `hermes publish --help` lists --stage, --json…
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput(output)
    .exitOverride();
  const action = (run: Parameters<typeof makeAction>[1]) => makeAction(state, run);
  for (const register of COMMANDS) register(program, action);
  // Commander's exitOverride and output apply per command; give them to every subcommand.
  const propagate = (cmd: Command) => {
    cmd.exitOverride();
    cmd.configureOutput(output);
    cmd.commands.forEach(propagate);
  };
  program.commands.forEach(propagate);
  return program;
}

/** --json anywhere before a `--` that ends the options (commander accepts it at any level). */
function wantsJson(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}

/** Run the CLI with the given arguments and streams; resolves to the exit code. */
export async function runCli(argv: string[], io: Io, signal: AbortSignal = new AbortController().signal): Promise<number> {
  const state: RunnerState = { io, signal, exitCode: 0 };
  const json = wantsJson(argv);
  // With --json, help and usage text are for a person: they go to stderr, kept until we know
  // whether commander printed the version, which is then reported as JSON instead.
  let held = '';
  const output: Output = {
    writeOut: (s) => void (json ? (held += s) : io.stdout.write(s)),
    writeErr: (s) => void io.stderr.write(s),
  };
  const program = buildProgram(state, output);
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (json && err.code === 'commander.version') {
        io.stdout.write(versionLine(true));
      } else if (held) {
        io.stderr.write(held);
      }
      // --help and --version exit 0; any parse error is a usage error (2).
      if (err.exitCode === 0) return 0;
      if (json) {
        // A command group run without its subcommand shows its help (on stderr) and fails.
        const message = err.code === 'commander.help' ? 'A subcommand is required.' : err.message.replace(/^error: /, '');
        const error = { code: 'usage', message: message.charAt(0).toUpperCase() + message.slice(1), hint: 'Run with --help for usage.' };
        io.stdout.write(`${JSON.stringify({ error })}\n`);
      }
      return 2;
    }
    throw err;
  }
  if (held) io.stderr.write(held);
  return state.exitCode;
}
