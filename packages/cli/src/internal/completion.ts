import type { Command, Option } from "commander";

export const SHELLS = ["bash", "zsh", "fish"] as const;
export type Shell = (typeof SHELLS)[number];

interface Spec {
  /** "worktree list" for a nested command. */
  path: string;
  options: { flags: string[]; takesValue: boolean; choices: readonly string[]; help: string }[];
  subcommands: string[];
}

function optionSpec(o: Option) {
  return {
    flags: [o.short, o.long].filter((f): f is string => typeof f === "string"),
    takesValue: o.required || o.optional,
    choices: o.argChoices ?? [],
    help: o.description,
  };
}

function specs(cmd: Command, prefix: string[], inherited: Option[]): Spec[] {
  const own = cmd.options as readonly Option[];
  const options = [...inherited, ...own].filter((o) => !o.hidden).map(optionSpec);
  const visible = cmd.commands.filter((c) => !(c as unknown as { _hidden: boolean })._hidden);
  const here: Spec = {
    path: prefix.join(" "),
    options,
    subcommands: visible.map((c) => c.name()),
  };
  return [here, ...visible.flatMap((c) => specs(c, [...prefix, c.name()], [...inherited, ...own]))];
}

const words = (xs: readonly string[]) => xs.join(" ");
const quote = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;

function bash(name: string, all: Spec[]): string {
  const fn = `_${name.replace(/\W/g, "_")}`;
  const cases = all
    .map((s) => {
      const values = s.options
        .filter((o) => o.takesValue)
        .map((o) => {
          const pattern = o.flags.join("|");
          const reply =
            o.choices.length > 0
              ? `compgen -W ${quote(words(o.choices))} -- "$cur"`
              : 'compgen -f -- "$cur"';
          return `        ${pattern}) COMPREPLY=($(${reply})); return ;;`;
        })
        .join("\n");
      const candidates = words([...s.subcommands, ...s.options.flatMap((o) => o.flags)]);
      return `    ${quote(s.path)})\n      case "$prev" in\n${values}\n      esac\n      COMPREPLY=($(compgen -W ${quote(candidates)} -- "$cur")) ;;`;
    })
    .join("\n");
  return `# bash completion for ${name}; load it with: source <(${name} completion bash)
${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" cmdpath="" i w
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ "$w" == -* ]] && continue
    if [[ " $(${fn}_subcommands "$cmdpath") " == *" $w "* ]]; then cmdpath="\${cmdpath:+$cmdpath }$w"; fi
  done
  case "$cmdpath" in
${cases}
  esac
}
${fn}_subcommands() {
  case "$1" in
${all
  .filter((s) => s.subcommands.length > 0)
  .map((s) => `    ${quote(s.path)}) echo ${quote(words(s.subcommands))} ;;`)
  .join("\n")}
  esac
}
complete -o default -F ${fn} ${name}
`;
}

function zsh(name: string, all: Spec[]): string {
  const fn = `_${name.replace(/\W/g, "_")}`;
  const cases = all
    .map((s) => {
      const lines = [
        ...s.subcommands.map((c) => `'${c}:command'`),
        ...s.options.flatMap((o) =>
          o.flags.map((f) => quote(`${f}:${o.help.replace(/[:\\]/g, " ")}`)),
        ),
      ];
      return `    ${quote(s.path)}) items=(${lines.join(" ")}) ;;`;
    })
    .join("\n");
  return `#compdef ${name}
# zsh completion for ${name}; load it with: source <(${name} completion zsh)
${fn}() {
  local -a items
  local cmdpath="" w
  for w in \${words[2,CURRENT-1]}; do
    [[ "$w" == -* ]] && continue
    case "$cmdpath" in
${all
  .filter((s) => s.subcommands.length > 0)
  .map(
    (s) =>
      `      ${quote(s.path)}) [[ " ${words(s.subcommands)} " == *" $w "* ]] && cmdpath="\${cmdpath:+$cmdpath }$w" ;;`,
  )
  .join("\n")}
    esac
  done
  case "$cmdpath" in
${cases}
  esac
  _describe 'command or option' items
}
compdef ${fn} ${name}
`;
}

function fish(name: string, all: Spec[]): string {
  const lines = [
    `# fish completion for ${name}; load it with: ${name} completion fish | source`,
    `complete -c ${name} -f`,
  ];
  for (const s of all) {
    const depth = s.path === "" ? [] : s.path.split(" ");
    const condition =
      depth.length === 0 ? "__fish_use_subcommand" : `__fish_seen_subcommand_from ${depth.at(-1)}`;
    for (const sub of s.subcommands)
      lines.push(`complete -c ${name} -n ${quote(condition)} -a ${sub}`);
    for (const o of s.options) {
      const long = o.flags.find((f) => f.startsWith("--"))?.slice(2);
      const short = o.flags.find((f) => !f.startsWith("--"))?.slice(1);
      const parts = [`complete -c ${name} -n ${quote(condition)}`];
      if (long) parts.push(`-l ${long}`);
      if (short) parts.push(`-s ${short}`);
      if (o.takesValue)
        parts.push(o.choices.length > 0 ? `-x -a ${quote(words(o.choices))}` : "-r -F");
      parts.push(`-d ${quote(o.help)}`);
      lines.push(parts.join(" "));
    }
  }
  return `${lines.join("\n")}\n`;
}

/** A completion script for `shell`, generated from the command tree so it never goes stale. */
export function completionScript(program: Command, shell: Shell): string {
  const all = specs(program, [], []);
  const name = program.name();
  return shell === "bash" ? bash(name, all) : shell === "zsh" ? zsh(name, all) : fish(name, all);
}
