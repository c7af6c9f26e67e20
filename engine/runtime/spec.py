"""What to run and what it sees: the runtime-neutral description of one process.

A ``ProcessSpec`` is filled in by the build engine (for RUN) or by the ``run``
command; the runtimes (runc, bubblewrap) translate it into their own terms.
Users are numbers here: name lookup in the image's /etc/passwd happens before.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from layerlab.engine.errors import UsageError
from layerlab.engine.record_type import field, record

MountKind = Literal["bind", "tmpfs", "cache", "secret"]
# private: its own namespace with outbound access (slirp4netns), never the host's loopback;
# none: only ``lo``; host: the host's own network stack.
NetworkMode = Literal["private", "none", "host"]
NETWORK_MODES = ("private", "none", "host")

# Secrets land here unless the mount names a target, as with RUN --mount=type=secret.
SECRETS_DIR = "/run/secrets"


@record(frozen=True)
class MountSpec:
    """One extra mount inside the container.

    - ``bind``: ``source`` (file or directory) at ``target``. ``readonly``
      binds refuse writes; a writable bind with ``discard_writes`` works on a
      private copy, so the process may write but the source never changes
      (BuildKit's ``--mount=type=bind,rw``); without it writes go through.
    - ``tmpfs``: an empty in-memory filesystem; ``size`` in bytes (0 = default).
    - ``cache``: ``source`` is a directory the caller keeps between runs;
      always writable, never part of the layer.
    - ``secret``: the file ``source`` is copied outside the rootfs with
      ``mode``/``uid``/``gid`` and bound read-only at ``target``
      (default ``/run/secrets/<id>``); it never reaches the layer.
    """

    kind: MountKind
    target: str
    source: Path | None = None
    readonly: bool = False
    discard_writes: bool = False
    size: int = 0
    mode: int | None = None
    uid: int = 0
    gid: int = 0
    secret_id: str = ""

    def __post_init__(self) -> None:
        if not self.target.startswith("/"):
            raise UsageError(f"mount target must be an absolute path: {self.target!r}")
        if self.kind in ("bind", "cache", "secret") and self.source is None:
            raise UsageError(f"{self.kind} mount at {self.target} needs a source")
        if self.kind not in ("bind", "tmpfs", "cache", "secret"):
            raise UsageError(f"unknown mount type {self.kind!r} at {self.target}")

    @classmethod
    def secret(cls, secret_id: str, source: Path, *, target: str | None = None, mode: int = 0o400,
               uid: int = 0, gid: int = 0) -> "MountSpec":
        return cls("secret", target or f"{SECRETS_DIR}/{secret_id}", source=Path(source), readonly=True,
                   mode=mode, uid=uid, gid=gid, secret_id=secret_id)


@record
class ProcessSpec:
    """One process: argv, environment, cwd, numeric user, network, hostname, mounts, privileges."""

    args: list[str]
    env: list[str] = field(default_factory=list)
    cwd: str = "/"
    user: str = "0:0"
    network: NetworkMode = "none"
    hostname: str = "layerlab"
    mounts: list[MountSpec] = field(default_factory=list)
    terminal: bool = False
    # RUN --security=insecure: every capability, no seccomp filter, /proc and /sys unmasked.
    privileged: bool = False
    additional_gids: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.args:
            raise UsageError("no command to run")
        if self.network not in NETWORK_MODES:
            raise UsageError(f"unsupported network mode {self.network!r} ({', '.join(NETWORK_MODES)})")
        if not self.cwd.startswith("/"):
            raise UsageError(f"working directory must be absolute: {self.cwd!r}")
        for item in self.env:
            if "=" not in item:
                raise UsageError(f"environment entry must be KEY=VALUE: {item!r}")
        _user_part(self.user, 0)  # a bad user string fails here, not inside the runtime
        if ":" in self.user:
            _user_part(self.user, 1)

    @property
    def uid(self) -> int:
        return _user_part(self.user, 0)

    @property
    def gid(self) -> int:
        return _user_part(self.user, 1) if ":" in self.user else 0

    @property
    def env_dict(self) -> dict[str, str]:
        return dict(item.split("=", 1) for item in self.env)


def _user_part(user: str, index: int) -> int:
    parts = user.split(":")
    try:
        value = int(parts[index])
    except (ValueError, IndexError):
        raise UsageError(f"user must be numeric uid[:gid], already resolved: {user!r}") from None
    if value < 0 or len(parts) > 2:
        raise UsageError(f"user must be numeric uid[:gid], already resolved: {user!r}")
    return value


@record
class RunResult:
    """How the process ended: its exit code (128+signal when killed) and its last output lines."""

    exit_code: int
    output_tail: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0
