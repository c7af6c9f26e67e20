"""The static command table: what ``layerlab --help`` lists, and what a start-up imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from layerlab.cli.command_table import BY_NAME, COMMANDS, GROUPS, IMAGE_SUBCOMMANDS
from layerlab.cli.main import build_parser
from layerlab.engine.store import Store
from tests.store.images import make_image

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("layerlab.engine.builder", "layerlab.engine.registry", "layerlab.engine.analysis", "textual",
         "layerlab.tui")

ALLOWED_COMMAND_MODULES = ("layerlab.cli.commands.images", "layerlab.cli.commands._image_group")

IMPORTED_BY = (
    "import sys\n"
    "from layerlab.__main__ import main\n"
    "code = main(sys.argv[1:])\n"
    "sys.stdout.flush()\n"
    "print(__import__('json').dumps(sorted(sys.modules)), file=sys.stderr)\n"
)


def subcommands(parser, dest: str = "command") -> dict:
    return next(action for action in parser._actions if action.dest == dest).choices


def registered_help(parser) -> dict[str, str]:
    actions = next(action for action in parser._actions if action.dest == "command")
    return {choice.dest: choice.help for choice in actions._choices_actions}


def test_the_table_lists_every_registered_command_with_its_help():
    parser = build_parser()
    assert registered_help(parser) == {command.name: command.help for command in COMMANDS}


def test_the_table_names_the_module_of_each_command():
    for command in COMMANDS:
        parser = build_parser([command.name])
        assert command.name in subcommands(parser), f"{command.module} does not register {command.name}"


def test_each_image_subcommand_comes_from_its_module():
    for name in IMAGE_SUBCOMMANDS:
        image_group = subcommands(build_parser(["image", name]))["image"]
        assert name in subcommands(image_group, "image_command"), name


def test_help_lists_every_command_grouped_as_docker_does(cli):
    result = cli("--help")
    assert result.code == 0
    positions = [result.out.index(f"\n{group}:\n") for group in GROUPS]
    assert positions == sorted(positions)
    for command in COMMANDS:
        line = next(line for line in result.out.splitlines() if line.split()[:1] == [command.name])
        assert line.split(None, 1)[1] == command.help
    common = result.out[positions[0]:positions[1]]
    assert "  build " in common and "  images " in common and "  image " not in common
    assert "  image " in result.out[positions[1]:positions[2]]


def test_an_unknown_command_is_one_line_and_exit_2(cli):
    result = cli("frobnicate")
    assert result.code == 2
    assert "'frobnicate' is not a layerlab command" in result.err
    assert "Traceback" not in result.err


def test_subcommand_help_still_comes_from_its_parser(cli):
    result = cli("images", "--help")
    assert result.code == 0 and "--digests" in result.out
    result = cli("image", "--help")
    assert result.code == 0 and all(name in result.out for name in IMAGE_SUBCOMMANDS)


@pytest.mark.parametrize("args", [["--help"], ["images"]], ids=["help", "images"])
def test_a_quick_command_imports_no_builder_registry_analysis_or_ui(args, tmp_path):
    env = dict(os.environ, LAYERLAB_ROOT=str(tmp_path / "root"))
    result = subprocess.run([sys.executable, "-c", IMPORTED_BY, *args], capture_output=True, text=True,
                            env=env, cwd=REPO)
    assert result.returncode == 0, result.stderr
    modules = json.loads(result.stderr.strip().splitlines()[-1])
    assert "layerlab.cli.main" in modules
    heavy = [m for m in modules if any(m == name or m.startswith(name + ".") for name in HEAVY)]
    assert heavy == []
    assert "argparse" not in modules or args != ["--help"]
    if args == ["images"]:
        assert "REPOSITORY" in result.stdout
        assert not any(m.startswith("layerlab.cli.commands.") and m not in ALLOWED_COMMAND_MODULES
                       for m in modules)


# What listing images needs is the metadata: none of these may load for it.
NOT_FOR_LISTING = ("layerlab.engine.store.delete", "layerlab.engine.store.check", "layerlab.engine.store.snapshots",
                   "layerlab.engine.store.usage", "layerlab.engine.store.measure", "layerlab.engine.store.leases",
                   "layerlab.engine.oci.config", "layerlab.engine.oci.manifest", "layerlab.engine.layers.compression",
                   "hashlib", "typing", "shutil", "dataclasses")


def test_images_opens_the_store_and_runs_its_query_only(tmp_path):
    root = tmp_path / "root"
    with Store.open(root) as store:
        store.put_image(make_image({"hello.txt": b"hi"}), tags=["listed:1"])
    env = dict(os.environ, LAYERLAB_ROOT=str(root))
    result = subprocess.run([sys.executable, "-c", IMPORTED_BY, "images"], capture_output=True, text=True,
                            env=env, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert "listed" in result.stdout.splitlines()[1]
    modules = json.loads(result.stderr.strip().splitlines()[-1])
    assert [m for m in NOT_FOR_LISTING if m in modules] == []


def test_the_table_has_no_duplicate_names():
    assert len(BY_NAME) == len(COMMANDS)


# A rebuild whose every step is cached computes keys and reads the cache; none of this may load for it.
NOT_FOR_A_NO_OP = ("layerlab.engine.builder.commit", "layerlab.engine.layers.write",
                   "layerlab.engine.builder.copy.ops", "layerlab.engine.builder.events_json",
                   "layerlab.engine.runtime.runc", "layerlab.engine.registry", "dataclasses", "tempfile")


def test_a_no_op_rebuild_loads_no_step_machinery(cli, root, tmp_path):
    from tests.build.conftest import write_context
    from tests.peers import need_program

    assert cli("bootstrap", "busybox", "--busybox", need_program("busybox")).code == 0
    context = write_context(tmp_path / "ctx", "FROM busybox\nWORKDIR /app\nENV A=1\nCOPY f.txt .\nRUN cat f.txt > g\n",
                            {"f.txt": "one\n"})
    assert cli("build", "-q", "--network", "none", "-t", "noop", str(context)).code == 0
    env = dict(os.environ, LAYERLAB_ROOT=str(root))
    result = subprocess.run([sys.executable, "-c", IMPORTED_BY, "build", "--network", "none", "-t", "noop",
                             str(context)], capture_output=True, text=True, env=env, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("CACHED") == 4, result.stdout  # it was a no-op
    modules = json.loads(result.stderr.strip().splitlines()[-1])
    assert [m for m in modules if m in NOT_FOR_A_NO_OP or m.startswith("layerlab.engine.registry.")] == []
