"""``run``: one process in an image's filesystem, over the same runtime RUN uses.

There is no container store: whatever the process writes lands in a
throwaway upper directory that is removed when it exits, with or without
``--rm``. The exit code is the process's.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from layerlab.engine.errors import UsageError
from layerlab.engine.runtime import ProcessSpec, default_runtime, resolve_user, run_in_layers
from layerlab.engine.store import Store
from layerlab.cli.keyvalues import key_values


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "run", help="run a command in an image (changes are discarded)",
        description="Run a command in an image's filesystem with runc (root) or bubblewrap. There is no "
                    "container store: the process's changes are discarded when it exits, --rm or not.")
    parser.add_argument("--rm", action="store_true", help="accepted for Docker compatibility (always the case)")
    parser.add_argument("-e", "--env", action="append", default=[], metavar="K=V", help="set an environment variable")
    parser.add_argument("-w", "--workdir", metavar="DIR", help="working directory inside the image")
    parser.add_argument("-u", "--user", metavar="USER", help="user[:group], names from the image's /etc/passwd")
    parser.add_argument("--entrypoint", metavar="E", help="replace the image's ENTRYPOINT (and its CMD)")
    parser.add_argument("--network", default="default", choices=("default", "none", "host"),
                        help="default: a private network with outbound access (never the host's loopback); "
                             "none: loopback only; host: the host's network")
    parser.add_argument("image", metavar="IMAGE")
    parser.add_argument("command", nargs=argparse.REMAINDER, metavar="CMD", help="replaces the image's CMD")
    parser.set_defaults(func=run_command)


def command_line(config, entrypoint: str | None, command: list[str]) -> list[str]:
    """Docker's rule: ENTRYPOINT + (CMD given on the command line, else the image's CMD)."""
    if entrypoint is not None:
        head = [entrypoint] if entrypoint else []
        tail = command
    else:
        head = list(config.entrypoint or [])
        tail = command or list(config.cmd or [])
    argv = head + tail
    if not argv:
        raise UsageError("no command specified (the image has no ENTRYPOINT or CMD)")
    return argv


def environment(config_env: list[str], overrides: list[str]) -> list[str]:
    env = {item.partition("=")[0]: item for item in config_env}
    for name, value in key_values(overrides, "-e").items():
        env[name] = f"{name}={value}"
    if not any(key == "PATH" for key in env):
        env["PATH"] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    return list(env.values())


def run_command(args, ctx) -> int:
    # Leased: rmi, prune and gc leave the image and its snapshots alone while the container runs.
    with ctx.store.leased() as store:
        return _run(args, store)


def _run(args: argparse.Namespace, store: Store) -> int:
    image = store.image(args.image)
    config = image.config.config
    argv = command_line(config, args.entrypoint, list(args.command))
    lowers = store.layer_stack(image)
    user = resolve_user(args.user or config.user or "0", lowers)
    workdir = args.workdir or config.working_dir or "/"
    if not workdir.startswith("/"):
        raise UsageError(f"-w {workdir}: the working directory must be absolute")
    spec = ProcessSpec(args=argv, env=environment(config.env, args.env), cwd=workdir, user=user.spec_user,
                       network="private" if args.network == "default" else args.network,
                       additional_gids=user.docker_gids)
    store.layout.tmp.mkdir(parents=True, exist_ok=True)
    workspace = Path(tempfile.mkdtemp(prefix=f"run-{os.getpid()}-", dir=store.layout.tmp))

    def on_output(stream: str, line: bytes) -> None:
        target = sys.stdout if stream == "stdout" else sys.stderr
        target.write(line.decode("utf-8", errors="replace") + "\n")
        target.flush()

    try:
        result, _upper = run_in_layers(lowers, spec, workspace / "run", runtime=default_runtime(),
                                       on_output=on_output)
    finally:
        from layerlab.engine.builder.workspace import remove_workspace

        remove_workspace(workspace)
    return result.exit_code
