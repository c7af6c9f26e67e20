"""Shell completion for bash, zsh and fish, written from the argparse parser itself.

``completion_spec`` walks the parser: every command path (``image``,
``image ls``...) with its options, its subcommands, and whether its
positional arguments name images. Each shell's script is that table as a
``case``/``switch`` plus a few lines of glue, so a new command or option is
completed without touching this file. Image names come from the store when
the user presses Tab (``layerlab images --format``), never from the script.
"""

from __future__ import annotations

import argparse

from layerlab.engine.record_type import field, record

SHELLS = ("bash", "zsh", "fish")
GLOBAL_OPTIONS = ("--root", "--help", "--version")
# Positional arguments with these names (dest or metavar, lower-cased) take an image.
_IMAGE_WORDS = ("image", "reference", "source", "target", "name", "images")
IMAGE_LIST = "layerlab images --format '{{.Repository}}:{{.Tag}}' 2>/dev/null | grep -v '<none>'"


@record
class Node:
    options: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    images: bool = False


def _takes_image(action: argparse.Action) -> bool:
    names = {str(action.dest).lower(), str(action.metavar or "").lower().split("[")[0].split(":")[0]}
    return any(name in _IMAGE_WORDS or name.startswith("image") for name in names)


def completion_spec(parser: argparse.ArgumentParser) -> dict[str, Node]:
    """Command path ("" for the top, "image ls" for a subcommand) -> what may follow it."""
    spec: dict[str, Node] = {}

    def walk(path: str, current: argparse.ArgumentParser) -> None:
        node = spec[path] = Node()
        for action in current._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    node.commands.append(name)
                    walk(f"{path} {name}".strip(), child)
            elif action.option_strings:
                node.options += [o for o in action.option_strings if o.startswith("--") or len(action.option_strings) == 1]
            elif _takes_image(action):
                node.images = True
        node.commands.sort()
        node.options.sort()

    walk("", parser)
    spec[""].options = sorted(set(spec[""].options) | set(GLOBAL_OPTIONS))
    return spec


def render(shell: str, spec: dict[str, Node]) -> str:
    if shell == "bash":
        return _bash(spec)
    if shell == "zsh":
        return _zsh(spec)
    if shell == "fish":
        return _fish(spec)
    raise ValueError(shell)


def _case_lines(spec: dict[str, Node], indent: str) -> list[str]:
    lines = []
    for path, node in spec.items():
        lines.append(f'{indent}"{path}") commands="{" ".join(node.commands)}"; '
                     f'options="{" ".join(node.options)}"; images={int(node.images)} ;;')
    return lines


# bash and zsh share the word scan: the command path is the leading words that name commands.
# (Not called "path": in zsh that is $PATH.)
_SCAN = '''    local cmdpath="" word i skip=0 commands options images
    for ((i = {first}; i < {current}; i++)); do
        word="${{{words}[i]}}"
        if ((skip)); then skip=0; continue; fi
        case "$word" in
            --root) skip=1 ;;
            -*) ;;
            *) _layerlab_node "$cmdpath"
               [[ " $commands " == *" $word "* ]] && cmdpath="${{cmdpath:+$cmdpath }}$word" ;;
        esac
    done
    _layerlab_node "$cmdpath"'''


def _node_function(spec: dict[str, Node]) -> list[str]:
    return ["_layerlab_node() {", '    case "$1" in', *_case_lines(spec, "        "),
            '        *) commands=""; options=""; images=0 ;;', "    esac", "}"]


def _bash(spec: dict[str, Node]) -> str:
    lines = ["# bash completion for layerlab: source it, or put it in /etc/bash_completion.d/layerlab",
             *_node_function(spec),
             "_layerlab() {",
             '    local cur="${COMP_WORDS[COMP_CWORD]}"',
             _SCAN.format(first=1, current="COMP_CWORD", words="COMP_WORDS"),
             '    if [[ "${COMP_WORDS[COMP_CWORD-1]}" == --root ]]; then COMPREPLY=($(compgen -d -- "$cur")); return; fi',
             '    if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "$options" -- "$cur")); return; fi',
             '    local candidates="$commands"',
             f'    if ((images)); then candidates="$candidates $({IMAGE_LIST})"; fi',
             '    COMPREPLY=($(compgen -W "$candidates" -- "$cur"))',
             '    if ((${#COMPREPLY[@]} == 0)) && [[ -z "$commands" ]]; then COMPREPLY=($(compgen -f -- "$cur")); fi',
             "}",
             "complete -F _layerlab layerlab", ""]
    return "\n".join(lines)


def _zsh(spec: dict[str, Node]) -> str:
    lines = ["#compdef layerlab",
             "# zsh completion for layerlab: put it on $fpath as _layerlab, or source it after compinit",
             *_node_function(spec),
             "_layerlab() {",
             '    local cur="${words[CURRENT]}"',
             _SCAN.format(first=2, current="CURRENT", words="words"),
             '    if [[ "${words[CURRENT-1]}" == --root ]]; then _files -/; return; fi',
             '    if [[ "$cur" == -* ]]; then compadd -- ${=options}; return; fi',
             '    [[ -n "$commands" ]] && compadd -- ${=commands}',
             f'    if ((images)); then compadd -- ${{(f)"$({IMAGE_LIST})"}}; fi',
             '    [[ -z "$commands" ]] && _files',
             "}",
             'if (( $+functions[compdef] )); then compdef _layerlab layerlab; fi', ""]
    return "\n".join(lines)


def _fish(spec: dict[str, Node]) -> str:
    lines = ["# fish completion for layerlab: put it in ~/.config/fish/completions/layerlab.fish",
             "function __layerlab_path",
             "    set -l words (commandline -opc)",
             "    set -e words[1]",
             "    set -l path",
             "    set -l skip 0",
             "    for word in $words",
             "        if test $skip = 1; set skip 0; continue; end",
             "        switch $word",
             "            case --root; set skip 1",
             "            case '-*'",
             "            case '*'",
             "                if contains -- $word (__layerlab_node commands (string join ' ' $path))",
             "                    set -a path $word",
             "                end",
             "        end",
             "    end",
             "    string join ' ' $path",
             "end",
             "function __layerlab_node --argument-names what path",
             "    switch \"$path\""]
    for path, node in spec.items():
        commands = " ".join(node.commands) or "''"
        options = " ".join(node.options) or "''"
        lines += [f"        case '{path}'",
                  "            switch $what",
                  f"                case commands; printf '%s\\n' {commands}",
                  f"                case options; printf '%s\\n' {options}",
                  f"                case images; echo {int(node.images)}",
                  "            end"]
    lines += ["    end",
              "end",
              "function __layerlab_complete",
              "    set -l path (__layerlab_path)",
              "    set -l current (commandline -ct)",
              "    if string match -q -- '-*' $current",
              "        __layerlab_node options \"$path\" | string match -v ''",
              "        return",
              "    end",
              "    __layerlab_node commands \"$path\" | string match -v ''",
              "    if test (__layerlab_node images \"$path\") = 1",
              f"        {IMAGE_LIST}",
              "    end",
              "end",
              "complete -c layerlab -f -a '(__layerlab_complete)'",
              "complete -c layerlab -l root -r -a '(__fish_complete_directories)'", ""]
    return "\n".join(lines)
