"""RUN: its command line, environment, user, mounts and network, as the runtime needs them.

The command is Docker's: shell form under ``/bin/sh -c`` (or SHELL), exec
form as written. The environment is the config's Env followed by the
in-scope build args the config does not set (plus undeclared proxy args),
as the classic builder passes them. ``--mount`` values become ``MountSpec``s:
``cache`` directories live under the store root and outlive the build,
``secret`` files come from ``--secret id=…,src=…`` and never reach a layer.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Callable, Mapping

from layerlab.engine.builder.cache_key import run_build_args, run_command
from layerlab.engine.dockerfile.args import PROXY_ARGS
from layerlab.engine.dockerfile.instructions import Run
from layerlab.engine.errors import BuildError, NotFound, UsageError
from layerlab.engine.record_type import record
from layerlab.engine.runtime import MountSpec

CACHE_MOUNTS_DIR = "build-mounts"


@record(frozen=True)
class MountRequest:
    """One ``--mount`` parsed: what the key sees (no secret contents) and what the runtime gets."""

    kind: str
    target: str
    source: str = ""
    from_: str = ""
    readonly: bool = False
    id: str = ""
    mode: int | None = None
    uid: int = 0
    gid: int = 0
    size: int = 0
    required: bool = False

    def key(self) -> str:
        fields = [f"type={self.kind}", f"target={self.target}"]
        for name, value in (("source", self.source), ("from", self.from_), ("id", self.id)):
            if value:
                fields.append(f"{name}={value}")
        if self.readonly:
            fields.append("ro")
        if self.mode is not None:
            fields.append(f"mode={self.mode:o}")
        if self.uid or self.gid:
            fields.append(f"uid={self.uid},gid={self.gid}")
        return ",".join(fields)


_TRUE = {"", "true", "1", "yes"}


def parse_mount(text: str, where: str) -> MountRequest:
    values: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        values[key.strip().lower()] = value.strip() if sep else ""
    kind = values.pop("type", "bind") or "bind"
    if kind not in ("bind", "cache", "tmpfs", "secret"):
        raise BuildError(f"{where}: unsupported mount type {kind!r} (bind, cache, tmpfs or secret)")
    target = next((values.pop(k) for k in ("target", "dst", "destination") if k in values), "")
    source = next((values.pop(k) for k in ("source", "src") if k in values), "")
    mount_id = values.pop("id", "")
    if kind == "secret":
        mount_id = mount_id or (os.path.basename(target) if target else "")
        if not mount_id:
            raise BuildError(f"{where}: a secret mount needs id= or target=")
        target = target or f"/run/secrets/{mount_id}"
    if not target:
        raise BuildError(f"{where}: mount needs a target")
    if not target.startswith("/"):
        target = "/" + target
    said_readonly = [values.pop(k) in _TRUE for k in ("readonly", "ro") if k in values]
    said_writable = [values.pop(k) in _TRUE for k in ("rw", "readwrite") if k in values]
    # A bind is read-only unless it says rw; the other kinds are writable unless they say ro.
    readonly = not any(said_writable) if kind == "bind" else any(said_readonly)
    mode = None
    if "mode" in values:
        try:
            mode = int(values.pop("mode"), 8)
        except ValueError:
            raise BuildError(f"{where}: mount mode must be octal") from None

    def number(name: str) -> int:
        try:
            return int(values.pop(name, "0") or "0")
        except ValueError:
            raise BuildError(f"{where}: mount {name} must be a number") from None

    sharing = values.pop("sharing", "shared")
    if kind == "cache" and sharing not in ("shared", "private", "locked"):
        raise BuildError(f"{where}: mount sharing={sharing}: expected shared, private or locked")
    request = MountRequest(kind, target, source, values.pop("from", ""), readonly, mount_id or target, mode,
                           number("uid"), number("gid"), number("size"), values.pop("required", "false") in _TRUE)
    if values:
        unknown = sorted(values)[0]
        raise BuildError(f"{where}: unknown --mount key {unknown!r} in {text!r}")
    return request


def command_text(run: Run) -> str:
    """A shell-form RUN's script, heredoc bodies included (the shell reads them itself)."""
    text = " ".join(run.command)
    for heredoc in run.heredocs:
        text += "\n" + heredoc.content + heredoc.name
    return text


_HEREDOC_WORD = re.compile(r"^(\d*)<<(-?)([^<]*)$")
HEREDOC_PIPES = "/dev/pipes"


def lone_heredoc(run: Run):
    """The heredoc when it is the whole command (``RUN <<EOT``), else None.

    BuildKit then runs the body itself: a body starting with ``#!`` as an
    executable file, any other through the shell, so that ``RUN <<EOT`` does
    what it reads as rather than feed the script to no command.
    """
    if not run.shell_form or len(run.heredocs) != 1:
        return None
    match = _HEREDOC_WORD.match(" ".join(run.command).strip())
    if match is None or not match.group(3).strip() or len(match.group(3).split()) != 1:
        return None
    return run.heredocs[0]


def run_argv(run: Run, shell: tuple[str, ...]) -> list[str]:
    if not run.shell_form:
        return list(run.command)
    heredoc = lone_heredoc(run)
    if heredoc is None:
        return [*shell, command_text(run)]
    body = heredoc.chomped_content()
    if body.startswith("#!"):
        return [f"{HEREDOC_PIPES}/{heredoc.name}"]
    return [*shell, body]


def heredoc_script_mount(run: Run, scratch: Path, where: str) -> MountSpec | None:
    """For a lone ``#!`` heredoc: the directory holding it as an executable file, read-only at /dev/pipes."""
    heredoc = lone_heredoc(run)
    if heredoc is None or not heredoc.chomped_content().startswith("#!"):
        return None
    if "/" in heredoc.name or heredoc.name in ("", ".", ".."):
        raise BuildError(f"{where}: heredoc name {heredoc.name!r} cannot name a file")
    directory = scratch / "pipes"
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / heredoc.name
    script.write_text(heredoc.chomped_content(), encoding="utf-8", errors="surrogateescape")
    script.chmod(0o755)
    return MountSpec("bind", HEREDOC_PIPES, source=directory, readonly=True)


def run_cmd(run: Run, shell: tuple[str, ...], declared: Mapping[str, str | None], env: list[str]
            ) -> tuple[tuple[str, ...], dict[str, str]]:
    """The step's ``Cmd`` (its key and CREATED BY) and the build args in it."""
    args = run_build_args(declared, env)
    command = command_text(run) if run.shell_form else list(run.command)
    return run_command(command, shell=shell, build_args=args), args


def run_env(config_env: list[str], build_args: Mapping[str, str], all_build_args: Mapping[str, str]) -> list[str]:
    env = list(config_env)
    names = {item.partition("=")[0] for item in env}
    for name, value in sorted(build_args.items()):
        if name not in names:
            env.append(f"{name}={value}")
            names.add(name)
    for name in sorted(PROXY_ARGS):
        if name in all_build_args and name not in names:
            env.append(f"{name}={all_build_args[name]}")
    return env


def _new_cache_dir(directory: Path, request: MountRequest) -> None:
    """A cache mount's directory, made on first use with its ``uid``, ``gid`` and ``mode`` (0755 and
    root by default, as BuildKit makes it); later uses find it as the last RUN left it."""
    if directory.is_dir():
        return
    directory.parent.mkdir(parents=True, exist_ok=True)
    directory.mkdir(exist_ok=True)
    os.chmod(directory, request.mode if request.mode is not None else 0o755)
    if os.geteuid() == 0:   # without root the runtime's user namespace maps owners; root in there owns it
        os.chown(directory, request.uid, request.gid)


def runtime_mounts(requests: list[MountRequest], *, store_root: Path, context_root: Path | None,
                   stage_roots: Mapping[str, Path], secrets: Mapping[str, Path], where: str,
                   context_view: Callable[[str], Path] | None = None) -> list[MountSpec]:
    """The runtime's mounts; ``context_view`` gives the host path a context bind shows (default: the
    context itself) so that a filtered copy can stand in for it."""
    mounts: list[MountSpec] = []
    for request in requests:
        if request.kind == "tmpfs":
            mounts.append(MountSpec("tmpfs", request.target, size=request.size))
        elif request.kind == "cache":
            name = hashlib.sha256(request.id.encode("utf-8", "surrogateescape")).hexdigest()[:32]
            directory = Path(store_root) / CACHE_MOUNTS_DIR / name
            _new_cache_dir(directory, request)
            mounts.append(MountSpec("cache", request.target, source=directory))
        elif request.kind == "secret":
            source = secrets.get(request.id)
            if source is None:
                if request.required:
                    raise BuildError(f"{where}: secret {request.id} not provided (use --secret id={request.id},src=FILE)")
                continue
            mounts.append(MountSpec.secret(request.id, Path(source), target=request.target,
                                           mode=request.mode if request.mode is not None else 0o400,
                                           uid=request.uid, gid=request.gid))
        else:
            root = stage_roots.get(request.from_) if request.from_ else context_root
            if root is None:
                raise BuildError(f"{where}: bind mount from {request.from_ or 'the context'} is not available")
            source = _inside(Path(root), request.source or ".", where)
            if not request.from_ and context_view is not None:
                try:
                    source = context_view(request.source or ".")
                except NotFound as error:
                    raise BuildError(f"{where}: mount source {error.one_line()}") from None
            mounts.append(MountSpec("bind", request.target, source=source, readonly=request.readonly,
                                    discard_writes=not request.readonly))
    return mounts


def _inside(root: Path, relative: str, where: str) -> Path:
    candidate = (root / relative.lstrip("/")).resolve()
    base = root.resolve()
    if candidate != base and base not in candidate.parents:
        raise BuildError(f"{where}: mount source {relative} leaves its root")
    if not candidate.exists():
        raise BuildError(f"{where}: mount source {relative} does not exist")
    return candidate


def parse_secret_flag(text: str) -> tuple[str, Path]:
    """``--secret id=x,src=path`` (also ``source=``; ``type=file`` accepted)."""
    values = dict(part.partition("=")[::2] for part in text.split(",") if part)
    secret_id = values.get("id", "")
    source = values.get("src") or values.get("source") or ""
    if values.get("type", "file") != "file":
        raise UsageError(f"--secret {text}: only type=file is supported")
    if not secret_id or not source:
        raise UsageError(f"--secret {text}: expected id=NAME,src=FILE")
    path = Path(source).expanduser()
    if not path.is_file():
        raise UsageError(f"--secret {text}: {source} is not a file")
    return secret_id, path.resolve()


__all__ = ["HEREDOC_PIPES", "MountRequest", "command_text", "heredoc_script_mount", "lone_heredoc", "parse_mount", "parse_secret_flag", "run_argv", "run_cmd", "run_env",
           "runtime_mounts"]
