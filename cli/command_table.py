"""Every command's name, one-line help, help group and the module that implements it.

The table is static so that ``layerlab --help`` lists every command without
importing any, and a command imports only its own module (and so only the
engine modules it uses): a start-up costs what the command needs, not what the
whole CLI knows. Adding a command is one line here plus its module under
``layerlab.cli.commands``, whose ``register(subparsers)`` adds the parser.
The help text must match the one the module registers
(tests/cli/test_command_table.py checks).
"""

from __future__ import annotations

# The groups of ``docker --help``, in its order.
COMMON = "Common Commands"
MANAGEMENT = "Management Commands"
OTHER = "Commands"
GROUPS = (COMMON, MANAGEMENT, OTHER)


class Command:
    """One command. A plain class: ``dataclasses`` alone would cost a fifth of the start-up budget."""

    __slots__ = ("name", "module", "help", "group")

    def __init__(self, name: str, module: str, help: str, group: str = OTHER) -> None:
        self.name = name
        self.module = module  # under layerlab.cli.commands
        self.help = help
        self.group = group

    def __repr__(self) -> str:
        return f"Command({self.name!r}, {self.module!r})"


COMMANDS: tuple[Command, ...] = (
    Command("run", "run", "run a command in an image (changes are discarded)", COMMON),
    Command("build", "build", "build an image from a Dockerfile", COMMON),
    Command("pull", "registry", "download an image from a registry", COMMON),
    Command("push", "registry", "upload an image to a registry", COMMON),
    Command("images", "images", "list images", COMMON),
    Command("login", "registry", "log in to a registry (credentials go to Docker's config.json)", COMMON),
    Command("logout", "registry", "forget the credentials for a registry", COMMON),
    Command("search", "registry", "search Docker Hub, or a registry's catalog, for repositories", COMMON),
    Command("tui", "tui", "open the terminal app (images, layer history, files, build)", COMMON),
    Command("version", "about", "show the layerlab version information", COMMON),
    Command("info", "about", "display system-wide information", COMMON),
    Command("dockerfile", "dockerfile", "parse, dump and lint Dockerfiles", MANAGEMENT),
    Command("image", "images", "manage images (ls, rm, tag, history, inspect, prune, save, load, import)", MANAGEMENT),
    Command("system", "system", "manage the store (df, prune)", MANAGEMENT),
    Command("analyze", "analysis", "efficiency (dive's score), reclaimable bytes, worst offenders"),
    Command("bootstrap", "bootstrap", "make a base image offline from a host binary"),
    Command("cat", "analysis", "print one file of an image"),
    Command("completion", "about", "print the shell completion script (bash, zsh, fish)"),
    Command("cp", "analysis", "copy a file or directory out of an image: IMAGE:PATH DEST"),
    Command("diff", "analysis", "A/M/D changes of a layer or image, or between two images"),
    Command("files", "analysis", "the image's file tree as of a layer, with search and sort"),
    Command("fsck", "system", "re-verify every blob, image and snapshot in the store"),
    Command("history", "history", "show the history of an image"),
    Command("import", "archive", "import a root filesystem tarball to create an image"),
    Command("inspect", "inspect", "display detailed information on one or more images"),
    Command("layers", "analysis", "per-layer table: size, files added/modified/removed, instruction"),
    Command("load", "archive", "load images from a tar archive or OCI layout (stdin by default)"),
    Command("rmi", "images", "remove one or more images"),
    Command("save", "archive", "save images to a tar archive (streamed to stdout by default)"),
    Command("tag", "images", "create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"),
    Command("tags", "registry", "list the tags of a repository on its registry"),
)

# ``image SUBCOMMAND``: the module that adds each subcommand to the group.
IMAGE_SUBCOMMANDS: dict[str, str] = {
    "ls": "images", "rm": "images", "tag": "images", "prune": "images", "history": "history",
    "inspect": "inspect", "save": "archive", "load": "archive", "import": "archive",
    "pull": "registry", "push": "registry",
}

BY_NAME: dict[str, Command] = {command.name: command for command in COMMANDS}


def modules_for(name: str, subcommand: str | None) -> list[str]:
    """The command modules to import to parse ``name [subcommand ...]`` (all of the group's for its help)."""
    if name == "image":
        if subcommand in IMAGE_SUBCOMMANDS:
            return [IMAGE_SUBCOMMANDS[subcommand]]
        return sorted(set(IMAGE_SUBCOMMANDS.values()))
    return [BY_NAME[name].module]


def all_modules() -> list[str]:
    return sorted({command.module for command in COMMANDS} | set(IMAGE_SUBCOMMANDS.values()))


DESCRIPTION = "Build, store, move and explore Docker/OCI images; see the build cache at work."
GLOBAL_OPTIONS = (("-h, --help", "show this help message and exit"),
                  ("-v, --version", "print version information and quit"),
                  ("--root DIR", "store directory (default: $LAYERLAB_ROOT or the XDG data dir)"))


def top_level_help() -> str:
    """``layerlab --help``, written from the table without argparse (which alone costs a tenth of it)."""
    width = max(max(len(command.name) for command in COMMANDS), max(len(flag) for flag, _ in GLOBAL_OPTIONS)) + 2
    lines = ["usage: layerlab [-h] [-v] [--root DIR] COMMAND ...", "", DESCRIPTION, "", "options:"]
    lines += [f"  {flag:<{width}}{text}" for flag, text in GLOBAL_OPTIONS]
    for group in GROUPS:
        lines += ["", f"{group}:"]
        lines += [f"  {command.name:<{width}}{command.help}" for command in COMMANDS if command.group == group]
    lines += ["", "Run 'layerlab COMMAND --help' for more information on a command.", ""]
    return "\n".join(lines)
