/**
 * The `hermes` entry point. Command modules only declare their flags here; each one imports
 * its heavy dependencies (AWS SDK, core modules, servers) inside its action, so `--help` and
 * `--version` stay fast.
 */
import { Command, CommanderError, Option } from 'commander';
import type { Io } from './context.js';
import { makeAction, type RunnerState } from './runner.js';
import { COMMANDS } from './commands/index.js';
import { VERSION } from './version.js';


export function buildProgram(state: RunnerState): Command {
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
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({
      writeOut: (s) => void state.io.stdout.write(s),
      writeErr: (s) => void state.io.stderr.write(s),
    })
    .exitOverride();
  const action = (run: Parameters<typeof makeAction>[1]) => makeAction(state, run);
  for (const register of COMMANDS) register(program, action);
  return program;
}

/** Run the CLI with the given arguments and streams; resolves to the exit code. */
export async function runCli(argv: string[], io: Io, signal: AbortSignal = new AbortController().signal): Promise<number> {
  const state: RunnerState = { io, signal, exitCode: 0 };
  const program = buildProgram(state);
  // Commander's own exitOverride applies per command; propagate it to all subcommands.
  const propagate = (cmd: Command) => {
    cmd.exitOverride();
    cmd.configureOutput({ writeOut: (s) => void io.stdout.write(s), writeErr: (s) => void io.stderr.write(s) });
    cmd.commands.forEach(propagate);
  };
  program.commands.forEach(propagate);
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit 0; any parse error is a usage error (2).
      return err.exitCode === 0 ? 0 : 2;
    }
    throw err;
  }
  return state.exitCode;
}
