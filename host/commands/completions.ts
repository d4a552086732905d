// `wspy completions bash|zsh|fish`: a shell completion script made from the commander program
// itself (its commands, options, option values and arguments, as `--help` shows them), so it
// stays true when a command or an option changes. One model, three small shell front ends: each
// script walks the words typed so far to the command path ("wspy tables dump"), then offers that
// command's subcommands, options, or the value its previous option takes (a choice, a file, a
// folder, a pid).
// Must not know: what the commands do; only what commander knows of them.
// Source of truth: commander's Help (visibleCommands/visibleOptions/visibleArguments); bash(1)
// "Programmable Completion" (COMP_WORDS, COMP_CWORD, COMPREPLY, compgen); zshcompsys(1)
// (_describe, _files, _pids, compdef); fish's `complete` and `commandline` builtins.

import { Argument, Command, Option } from "commander";
import { WspyError } from "../errors.js";
import { commanderError } from "../io/escape.js";

export const SHELLS = ["bash", "zsh", "fish"] as const;
export type Shell = (typeof SHELLS)[number];

/** What the value of an option (or an argument) is: one of some words, a file, a folder, a pid. */
type ValueKind = { choices: string[] } | "file" | "dir" | "pid" | "command" | "any";

interface OptionModel { flags: string[]; takes: ValueKind | null; description: string }
interface CommandModel {
  path: string;
  subcommands: { name: string; description: string }[];
  options: OptionModel[];
  /** what the command's positional arguments are (the first one's kind), null when none */
  args: ValueKind | null;
}

/** The kind of value from its placeholder: `<file>` a file, `<dir>` a folder, `<pid>` a pid. */
function kindOf(placeholder: string, choices: readonly string[] | undefined): ValueKind {
  if (choices && choices.length) return { choices: [...choices] };
  const p = placeholder.toLowerCase();
  if (/file|input|output/.test(p)) return "file";
  if (/dir|sysroot/.test(p)) return "dir";
  if (p === "pid") return "pid";
  if (p === "command") return "command";
  if (p === "exe" || p === "path") return "file";
  return "any";
}

function optionModel(o: Option): OptionModel {
  const flags = [o.short, o.long].filter((f): f is string => !!f);
  const m = /[<[]([^>\]]+)[>\]]/.exec(o.flags);
  return { flags, takes: m ? kindOf(m[1], o.argChoices) : null, description: o.description ?? "" };
}

/** Every command of the program, depth first, with what it offers. */
export function completionModel(program: Command): CommandModel[] {
  const out: CommandModel[] = [];
  const walk = (cmd: Command, path: string): void => {
    const help = cmd.createHelp();
    const subs = help.visibleCommands(cmd);
    const args = help.visibleArguments(cmd);
    out.push({
      path,
      subcommands: subs.map((c) => ({ name: c.name(), description: c.description() })),
      options: help.visibleOptions(cmd).map(optionModel),
      args: args.length ? kindOf(args[0].name(), args[0].argChoices) : null,
    });
    // `help [command]` completes the command names
    for (const c of subs) if (c.name() !== "help") walk(c, `${path} ${c.name()}`);
    const implicitHelp = subs.find((c) => c.name() === "help");
    if (implicitHelp) out.push({ path: `${path} help`, subcommands: [], options: [], args: { choices: subs.map((c) => c.name()).filter((n) => n !== "help") } });
  };
  walk(program, program.name());
  return out;
}

// ---- shells -----------------------------------------------------------------------------------

/** 'text' for a POSIX shell (bash, zsh); fish's quoting is the same for single quotes but \\ too. */
const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
const qFish = (s: string): string => `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
const oneLine = (s: string): string => s.replace(/\s+/g, " ").trim();

function kindWord(k: ValueKind | null): string {
  if (k === null) return "";
  return typeof k === "string" ? k : `choices ${k.choices.join(" ")}`;
}

/**
 * The per-path data as shell case statements (bash and zsh read them alike): subcommands,
 * options, options that take a value, the value kind of an option, the kind of the arguments.
 */
function caseTables(model: CommandModel[], fn: string, describe: boolean): string {
  const cases = (name: string, body: (c: CommandModel) => string): string =>
    [`${fn}_${name}() {`, `  case "$1" in`, ...model.map((c) => `    ${q(c.path)}) ${body(c)} ;;`), `  esac`, `}`].join("\n");
  const lines: string[] = [];
  lines.push(cases("subs", (c) => `printf '%s\\n' ${c.subcommands.map((s) => q(describe ? `${s.name}:${oneLine(s.description)}` : s.name)).join(" ") || "''"}`));
  lines.push(cases("opts", (c) => `printf '%s\\n' ${c.options.flatMap((o) => o.flags.map((f) => q(describe ? `${f.replace(/:/g, "\\:")}:${oneLine(o.description)}` : f))).join(" ") || "''"}`));
  lines.push(cases("valued", (c) => `printf '%s\\n' ${c.options.filter((o) => o.takes).flatMap((o) => o.flags).map(q).join(" ") || "''"}`));
  lines.push([`${fn}_value() {`, `  case "$1|$2" in`,
    ...model.flatMap((c) => c.options.filter((o) => o.takes).map((o) => `    ${o.flags.map((f) => q(`${c.path}|${f}`)).join("|")}) echo ${q(kindWord(o.takes))} ;;`)),
    `  esac`, `}`].join("\n"));
  lines.push(cases("args", (c) => `echo ${q(kindWord(c.args))}`));
  return lines.join("\n");
}

function bashScript(model: CommandModel[], prog: string): string {
  const fn = `_${prog}`;
  return `# bash completion for ${prog}, made by \`${prog} completions bash\` from its own commands and options.
# Load it: source <(${prog} completions bash)   (or save it as
# ~/.local/share/bash-completion/completions/${prog})
${caseTables(model, fn, false)}
# the command path of the words before the cursor ("${prog} tables dump"); "--" ends the options
${fn}_path() {
  local path=${q(prog)} skip=0 i w
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]}
    if ((skip)); then skip=0; continue; fi
    if [[ $w == -- ]]; then path="$path --"; break; fi
    if [[ $w == -* ]]; then
      [[ $w != *=* ]] && ${fn}_valued "$path" | grep -qxF -- "$w" && skip=1
      continue
    fi
    ${fn}_subs "$path" | grep -qxF -- "$w" && path="$path $w"
  done
  printf '%s' "$path"
}
${fn}_complete_kind() {
  local kind=$1 cur=$2
  case "$kind" in
    choices\\ *) COMPREPLY=($(compgen -W "\${kind#choices }" -- "$cur")) ;;
    file) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur")) ;;
    dir) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- "$cur")) ;;
    pid) COMPREPLY=($(compgen -W "$(cd /proc 2>/dev/null && printf '%s ' [0-9]*)" -- "$cur")) ;;
    command) COMPREPLY=($(compgen -c -- "$cur")) ;;
    *) COMPREPLY=() ;;
  esac
}
${fn}() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD - 1]} path kind
  path=$(${fn}_path)
  COMPREPLY=()
  if [[ $path == *" --" ]]; then
    compopt -o filenames 2>/dev/null
    COMPREPLY=($(compgen -c -- "$cur") $(compgen -f -- "$cur"))
    return 0
  fi
  if [[ $cur == --*=* ]]; then
    kind=$(${fn}_value "$path" "\${cur%%=*}")
    [[ -n $kind ]] && ${fn}_complete_kind "$kind" "\${cur#*=}"
    return 0
  fi
  # bash splits --opt=value at the = (COMP_WORDBREAKS): "--opt" "=" "value"
  if [[ $prev == = ]] && ((COMP_CWORD > 2)); then
    kind=$(${fn}_value "$path" "\${COMP_WORDS[COMP_CWORD - 2]}")
    [[ -n $kind ]] && ${fn}_complete_kind "$kind" "$cur"
    return 0
  fi
  if [[ $cur == = ]] && ((COMP_CWORD > 1)); then
    kind=$(${fn}_value "$path" "$prev")
    [[ -n $kind ]] && ${fn}_complete_kind "$kind" ""
    return 0
  fi
  if ((COMP_CWORD > 1)) && [[ $prev == -* ]]; then
    kind=$(${fn}_value "$path" "$prev")
    if [[ -n $kind ]]; then ${fn}_complete_kind "$kind" "$cur"; return 0; fi
  fi
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$(${fn}_opts "$path")" -- "$cur"))
    return 0
  fi
  local subs
  subs=$(${fn}_subs "$path")
  if [[ -n $subs ]]; then
    COMPREPLY=($(compgen -W "$subs" -- "$cur"))
  else
    kind=$(${fn}_args "$path")
    [[ -n $kind ]] && ${fn}_complete_kind "$kind" "$cur"
  fi
  return 0
}
complete -F ${fn} ${prog}
`;
}

function zshScript(model: CommandModel[], prog: string): string {
  const fn = `_${prog}`;
  return `#compdef ${prog}
# zsh completion for ${prog}, made by \`${prog} completions zsh\` from its own commands and options.
# Load it: save it as _${prog} in a folder of $fpath (before compinit), or
# source <(${prog} completions zsh) after compinit.
${caseTables(model, `${fn}_data`, true)}
${fn}_complete_kind() {
  case "$1" in
    choices\\ *) local -a c; c=(\${=\${1#choices }}); compadd -a c ;;
    file) _files ;;
    dir) _files -/ ;;
    pid) _pids ;;
    command) _command_names -e ;;
  esac
}
${fn}() {
  local path=${q(prog)} skip=0 i w kind cur=\${words[CURRENT]} prev=\${words[CURRENT-1]}
  for ((i = 2; i < CURRENT; i++)); do
    w=\${words[i]}
    if ((skip)); then skip=0; continue; fi
    if [[ $w == -- ]]; then path="$path --"; break; fi
    if [[ $w == -* ]]; then
      [[ $w != *=* ]] && (( \${\${(f)"$(${fn}_data_valued "$path")"}[(Ie)$w]} )) && skip=1
      continue
    fi
    local -a subnames; subnames=(\${\${(f)"$(${fn}_data_subs "$path")"}%%:*})
    (( \${subnames[(Ie)$w]} )) && path="$path $w"
  done
  if [[ $path == *" --" ]]; then
    _alternative 'commands:command:_command_names -e' 'files:file:_files'
    return
  fi
  if [[ $cur == --*=* ]]; then
    kind=$(${fn}_data_value "$path" "\${cur%%=*}")
    if [[ -n $kind ]]; then compset -P '*='; ${fn}_complete_kind "$kind"; fi
    return
  fi
  if ((CURRENT > 2)) && [[ $prev == -* ]]; then
    kind=$(${fn}_data_value "$path" "$prev")
    if [[ -n $kind ]]; then ${fn}_complete_kind "$kind"; return; fi
  fi
  local -a items
  if [[ $cur == -* ]]; then
    items=(\${(f)"$(${fn}_data_opts "$path")"})
    _describe -t options option items
    return
  fi
  items=(\${(f)"$(${fn}_data_subs "$path")"})
  if (( \${#items} )) && [[ -n \${items[1]} ]]; then
    _describe -t commands command items
  else
    kind=$(${fn}_data_args "$path")
    [[ -n $kind ]] && ${fn}_complete_kind "$kind"
  fi
}
if [[ \${zsh_eval_context[-1]} == loadautofunc ]]; then
  ${fn} "$@"
else
  compdef ${fn} ${prog}
fi
`;
}

function fishScript(model: CommandModel[], prog: string): string {
  const fn = `__${prog}`;
  const lines: string[] = [
    `# fish completion for ${prog}, made by \`${prog} completions fish\` from its own commands and options.`,
    `# Load it: ${prog} completions fish | source   (or save it as ~/.config/fish/completions/${prog}.fish)`,
    `function ${fn}_subs`,
    `    switch $argv[1]`,
    ...model.map((c) => `        case ${qFish(c.path)}\n            printf '%s\\n' ${c.subcommands.map((s) => qFish(s.name)).join(" ") || "''"}`),
    `    end`,
    `end`,
    `function ${fn}_valued`,
    `    switch $argv[1]`,
    ...model.map((c) => `        case ${qFish(c.path)}\n            printf '%s\\n' ${c.options.filter((o) => o.takes).flatMap((o) => o.flags).map(qFish).join(" ") || "''"}`),
    `    end`,
    `end`,
    `# the command path of the words before the cursor ("${prog} tables dump"); "--" ends the options`,
    `function ${fn}_path`,
    `    set -l words (commandline -opc)`,
    `    set -e words[1]`,
    `    set -l path ${qFish(prog)}`,
    `    set -l skip 0`,
    `    for w in $words`,
    `        if test $skip = 1`,
    `            set skip 0`,
    `            continue`,
    `        end`,
    `        if test "$w" = --`,
    `            set path "$path --"`,
    `            break`,
    `        end`,
    `        if string match -q -- '-*' $w`,
    `            if not string match -q -- '*=*' $w; and contains -- $w (${fn}_valued $path)`,
    `                set skip 1`,
    `            end`,
    `            continue`,
    `        end`,
    `        if contains -- $w (${fn}_subs $path)`,
    `            set path "$path $w"`,
    `        end`,
    `    end`,
    `    echo $path`,
    `end`,
    `function ${fn}_at`,
    `    test (${fn}_path) = "$argv"`,
    `end`,
    `complete -c ${prog} -e`,
    `complete -c ${prog} -f`,
  ];
  const valueArgs = (k: ValueKind): string =>
    k === "file" ? "-r -F" : k === "dir" ? `-x -a '(__fish_complete_directories)'` : k === "pid" ? `-x -a '(__fish_complete_pids)'`
      : k === "command" ? `-x -a '(__fish_complete_command)'` : k === "any" ? "-x" : `-x -a ${qFish(k.choices.join(" "))}`;
  for (const c of model) {
    const cond = `-n ${qFish(`${fn}_at ${c.path}`)}`;
    for (const s of c.subcommands) lines.push(`complete -c ${prog} ${cond} -a ${qFish(s.name)} -d ${qFish(oneLine(s.description))}`);
    for (const o of c.options) {
      const names = o.flags.map((f) => (f.startsWith("--") ? `-l ${f.slice(2)}` : `-s ${f.slice(1)}`)).join(" ");
      lines.push(`complete -c ${prog} ${cond} ${names}${o.takes ? ` ${valueArgs(o.takes)}` : ""} -d ${qFish(oneLine(o.description))}`);
    }
    if (c.args && c.subcommands.length === 0) {
      const a = c.args === "file" ? "-F" : c.args === "dir" ? `-a '(__fish_complete_directories)'` : c.args === "pid" ? `-a '(__fish_complete_pids)'`
        : c.args === "command" ? `-a '(__fish_complete_command)'` : c.args === "any" ? "" : `-a ${qFish(c.args.choices.join(" "))}`;
      if (a) lines.push(`complete -c ${prog} ${cond} ${a}`);
    }
  }
  // after "--": the command to run and its files
  lines.push(`complete -c ${prog} -n ${qFish(`string match -q -- '* --' (${fn}_path)`)} -F -a '(__fish_complete_command)'`);
  return lines.join("\n") + "\n";
}

/** The completion script of program for shell. */
export function renderCompletions(program: Command, shell: string): string {
  const model = completionModel(program);
  const prog = program.name();
  switch (shell) {
    case "bash": return bashScript(model, prog);
    case "zsh": return zshScript(model, prog);
    case "fish": return fishScript(model, prog);
    default: throw new WspyError("BAD_INPUT", `no completions for the shell ${JSON.stringify(shell)}`, `one of ${SHELLS.join(", ")}`);
  }
}

/** `wspy completions SHELL`: prints the script for the program it is part of. */
export function completionsCommand(): Command {
  return new Command("completions")
    .description("print a shell completion script (bash, zsh or fish) for wspy's commands and options")
    .addArgument(new Argument("<shell>", "bash, zsh or fish").choices(SHELLS))
    .exitOverride()
    .configureOutput({ outputError: commanderError })
    .action(function (this: Command, shell: string) {
      let root: Command = this;
      while (root.parent) root = root.parent;
      process.stdout.write(renderCompletions(root, shell));
    });
}
