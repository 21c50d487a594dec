/**
 * `hermes completion bash|zsh`: a completion script generated from the commander program tree,
 * so every verb and flag added later is covered without editing this file.
 */
import type { Command, Option } from 'commander';
import type { Register } from '../runner.js';
import type { CommandResult } from '../runner.js';

interface Node {
  /** Space-separated command path below `hermes`, '' for the root. */
  path: string;
  subcommands: Array<{ name: string; description: string }>;
  options: Array<{ flags: string[]; description: string; takesValue: boolean }>;
}

/** Every command of the tree with its subcommands and options; global options are listed at every level. */
export function describeTree(program: Command): Node[] {
  const visible = (o: Option) => !o.hidden;
  const optionsOf = (cmd: Command) =>
    cmd.options.filter(visible).map((o) => ({
      flags: [o.long, o.short].filter((f): f is string => Boolean(f)),
      description: o.description,
      takesValue: o.required || o.optional,
    }));
  // --version works on `hermes` itself only.
  const globals = optionsOf(program).filter((o) => !o.flags.includes('--version'));
  const help = { flags: ['--help', '-h'], description: 'display help', takesValue: false };
  const nodes: Node[] = [];
  const walk = (cmd: Command, path: string) => {
    const subs = cmd.commands.filter((c) => !(c as Command & { _hidden?: boolean })._hidden);
    nodes.push({
      path,
      subcommands: subs.map((c) => ({ name: c.name(), description: c.description() })),
      options: [...(cmd === program ? optionsOf(program) : [...optionsOf(cmd), ...globals]), help],
    });
    for (const c of subs) walk(c, path ? `${path} ${c.name()}` : c.name());
  };
  walk(program, '');
  return nodes;
}

/** Options whose value is a path, completed with file names. */
const FILE_FLAGS = new Set(['--file', '--state-dir']);

const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function bashScript(nodes: Node[]): string {
  const valueFlags = [...new Set(nodes.flatMap((n) => n.options.filter((o) => o.takesValue).flatMap((o) => o.flags)))];
  const cases = (pick: (n: Node) => string[]) =>
    nodes.map((n) => `    ${sq(n.path)}) echo ${sq(pick(n).join(' '))} ;;`).join('\n');
  return `# bash completion for hermes. Load it with:  source <(hermes completion bash)
# or install it:  hermes completion bash > ~/.local/share/bash-completion/completions/hermes
_hermes_subcommands() {
  case "$1" in
${cases((n) => n.subcommands.map((s) => s.name))}
  esac
}
_hermes_options() {
  case "$1" in
${cases((n) => n.options.flatMap((o) => o.flags))}
  esac
}
_hermes() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  local cmdpath="" word i
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    case " ${valueFlags.join(' ')} " in
      *" $word "*) i=$((i + 1)); continue ;;
    esac
    [[ "$word" == -* ]] && continue
    if [[ " $(_hermes_subcommands "$cmdpath") " == *" $word "* ]]; then
      cmdpath="\${cmdpath:+$cmdpath }$word"
    fi
  done
  case "$prev" in
    ${[...FILE_FLAGS].join('|')}) COMPREPLY=($(compgen -f -- "$cur")); return ;;
  esac
  case " ${valueFlags.join(' ')} " in
    *" $prev "*) COMPREPLY=(); return ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$(_hermes_options "$cmdpath")" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$(_hermes_subcommands "$cmdpath")" -- "$cur"))
  fi
}
complete -F _hermes hermes
`;
}

export function zshScript(nodes: Node[]): string {
  // _describe entries are `name:description`; a colon inside either part is escaped.
  const entry = (name: string, description: string) => sq(`${name.replace(/:/g, '\\:')}:${description.replace(/:/g, '\\:')}`);
  const valueFlags = [...new Set(nodes.flatMap((n) => n.options.filter((o) => o.takesValue).flatMap((o) => o.flags)))];
  const arrays = (pick: (n: Node) => string[]) =>
    nodes.map((n) => `    ${sq(n.path)}) reply=(${pick(n).join(' ')}) ;;`).join('\n');
  return `#compdef hermes
# zsh completion for hermes. Load it with:  source <(hermes completion zsh)
# or install it as _hermes in a directory of your $fpath.
_hermes_subcommands() {
  case "$1" in
${arrays((n) => n.subcommands.map((s) => entry(s.name, s.description)))}
    *) reply=() ;;
  esac
}
_hermes_options() {
  case "$1" in
${arrays((n) => n.options.flatMap((o) => o.flags.map((f) => entry(f, o.description))))}
    *) reply=() ;;
  esac
}
_hermes() {
  local -a value_flags reply
  value_flags=(${valueFlags.join(' ')})
  local cmdpath="" word i
  for ((i = 2; i < CURRENT; i++)); do
    word="\${words[i]}"
    if (( \${value_flags[(Ie)$word]} )); then (( i++ )); continue; fi
    [[ "$word" == -* ]] && continue
    _hermes_subcommands "$cmdpath"
    if (( \${reply[(I)$word:*]} )); then cmdpath="\${cmdpath:+$cmdpath }$word"; fi
  done
  local prev="\${words[CURRENT-1]}"
  case "$prev" in
    ${[...FILE_FLAGS].join('|')}) _files; return ;;
  esac
  if (( \${value_flags[(Ie)$prev]} )); then _message 'value'; return; fi
  if [[ "\${words[CURRENT]}" == -* ]]; then
    _hermes_options "$cmdpath"
    _describe -t options 'option' reply
  else
    _hermes_subcommands "$cmdpath"
    (( \${#reply} )) && _describe -t commands 'command' reply
  fi
}
if [[ "\${funcstack[1]}" == _hermes ]]; then _hermes "$@"; else compdef _hermes hermes; fi
`;
}

export const register: Register = (program, action) => {
  program
    .command('completion')
    .description('print a shell completion script (bash or zsh)')
    .argument('<shell>', 'bash or zsh')
    .addHelpText('after', '\nExamples:\n  source <(hermes completion bash)\n  hermes completion zsh > "${fpath[1]}/_hermes"')
    .action(
      action(async (_ctx, args): Promise<CommandResult> => {
        const shell = String(args[0]);
        const nodes = describeTree(program);
        if (shell === 'bash') return { text: bashScript(nodes), data: { shell, script: bashScript(nodes) } };
        if (shell === 'zsh') return { text: zshScript(nodes), data: { shell, script: zshScript(nodes) } };
        const { UsageError } = await import('../../core/errors.js');
        throw new UsageError(`Unknown shell "${shell}": hermes completion supports bash and zsh.`, {
          hint: 'Run `hermes completion bash` or `hermes completion zsh`.',
        });
      }),
    );
};
