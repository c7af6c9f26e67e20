"""Run one process with bubblewrap, for a user without root.

bwrap makes a user namespace (the process is ``spec.user`` inside, the
calling user outside), new pid, ipc and uts namespaces; with network "none"
a new empty network namespace, with "private" it runs inside the namespace
``network.PrivateNetwork`` holds (entered through ``nsenter``), with "host"
in the host's. It drops to Docker's default
capability set and always sets no_new_privs.

Over a layer stack without root (``run_layers``) the overlay cannot be
mounted in our own mount namespace. bwrap 0.8 has no ``--overlay``, so the
overlay is mounted by ``unshare --user --map-root-user --mount`` (allowed
for unprivileged users since Linux 5.11, with ``userxattr``; where the kernel
refuses, by fuse-overlayfs: see ``userns_overlay``) and bwrap runs inside
that namespace. Nothing outlives the run. Opaque directories in that
upperdir carry ``user.overlay.opaque``; every file there belongs to the
calling user.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Callable

from layerlab.engine.errors import ContainerError
from layerlab.engine.fsutil import fresh_directory
from layerlab.engine.runtime import live, watchdog
from layerlab.engine.runtime.container_files import prepare_mounts, write_etc_files
from layerlab.engine.runtime.oci_config import DOCKER_DEFAULT_CAPABILITIES
from layerlab.engine.runtime.network import PrivateNetwork
from layerlab.engine.runtime.output import OutputCallback, pump_output
from layerlab.engine.runtime.seccomp_bpf import compile_profile
from layerlab.engine.runtime.rootfs import overlay_options, prepare_overlay_dirs
from layerlab.engine.runtime.spec import ProcessSpec, RunResult
from layerlab.engine.runtime.userns_overlay import FUSE_MOUNTED, MODES, MOUNT_SCRIPT, fuse_options, normalize_upper


class BubblewrapRuntime:
    name = "bubblewrap"

    def __init__(self, *, bwrap: str | None = None, scratch_parent: Path | None = None, overlay: str = "auto"):
        """``overlay``: "auto" (the kernel's, else fuse-overlayfs), "kernel" or "fuse" only."""
        if overlay not in MODES:
            raise ValueError(f"overlay must be one of {', '.join(MODES)}, not {overlay!r}")
        self.bwrap = bwrap or shutil.which("bwrap") or "bwrap"
        self.scratch_parent = scratch_parent
        self.overlay = overlay

    def run(self, rootfs: Path, spec: ProcessSpec, *, on_output: OutputCallback | None = None,
            scratch_dir: Path | None = None, on_start: Callable[[], None] | None = None) -> RunResult:
        """Run with ``rootfs`` (a plain or already mounted directory) bound read-write at /."""
        return self._run(lambda bwrap_args: bwrap_args, Path(rootfs), spec, on_output, scratch_dir, on_start)

    def run_layers(self, lowers: list[Path], workspace: Path, spec: ProcessSpec, *,
                   on_output: OutputCallback | None = None, on_start: Callable[[], None] | None = None) -> RunResult:
        """Overlay ``lowers`` (bottom -> top) with ``workspace/upper`` and run, all without root."""
        lower_names = prepare_overlay_dirs(lowers, workspace)
        options = overlay_options(lower_names, userxattr=True)
        unshare = shutil.which("unshare") or "unshare"

        def wrap(bwrap_args: list[str]) -> list[str]:
            return [unshare, "--user", "--map-root-user", "--mount", "--", "/bin/sh", "-c", MOUNT_SCRIPT, "sh",
                    str(workspace), options, fuse_options(lower_names), self.overlay, *bwrap_args]

        result = self._run(wrap, Path(workspace) / "merged", spec, on_output, Path(workspace), on_start)
        if (Path(workspace) / FUSE_MOUNTED).exists():
            normalize_upper(Path(workspace) / "upper")
        return result

    def _run(self, wrap, rootfs: Path, spec: ProcessSpec, on_output: OutputCallback | None,
             scratch_dir: Path | None, on_start: Callable[[], None] | None = None) -> RunResult:
        scratch = fresh_directory(scratch_dir or self.scratch_parent, "bwrap-")
        undo_scratch = watchdog.undo_on_death(["rm", "-rf", "--", str(scratch)])
        network = PrivateNetwork() if spec.network == "private" else None
        process: subprocess.Popen | None = None
        # bwrap writes {"exit-code": N} here only once the command really ran; its absence
        # tells a sandbox or exec failure apart from a command that exited non-zero.
        status_read, status_write = os.pipe()
        extra_fds: list[int] = []
        try:
            etc_files = write_etc_files(scratch, spec)
            bwrap_args = self._bwrap_args(rootfs, spec, etc_files, prepare_mounts(scratch, spec.mounts))
            bwrap_args[1:1] = ["--json-status-fd", str(status_write)]
            seccomp_fd = self._seccomp_fd(scratch, spec)
            if seccomp_fd >= 0:
                bwrap_args[1:1] = ["--seccomp", str(seccomp_fd)]
                extra_fds.append(seccomp_fd)
            command = wrap(bwrap_args)
            if network is not None:
                network.start()
                command = network.enter_command() + command
            if spec.terminal:
                process = subprocess.Popen(command, pass_fds=(status_write, *extra_fds))
                os.close(status_write)
                status_write = -1
                if on_start is not None:
                    on_start()
                process.wait()
                tail: list[str] = []
            else:
                process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                           stderr=subprocess.PIPE, start_new_session=True,
                                           pass_fds=(status_write, *extra_fds))
                os.close(status_write)
                status_write = -1
                with live.running(lambda: os.killpg(process.pid, 9)):
                    if on_start is not None:
                        on_start()
                    tail = pump_output(process, on_output)
                    process.wait()
            exit_code = _command_exit_code(status_read)
            if exit_code is None:
                if process.returncode < 0:
                    return RunResult(_exit_code(process.returncode), tail)
                failures = ("bwrap:", "mount:", "unshare:", "fuse")
                reason = next((line for line in reversed(tail) if line.startswith(failures)),
                              tail[-1] if tail else f"exit status {process.returncode}")
                raise ContainerError(f"bubblewrap could not run {spec.args[0]!r}: {reason}")
            return RunResult(exit_code, tail)
        except FileNotFoundError as error:
            raise ContainerError(f"cannot start bubblewrap: {error.filename or error} not found") from None
        finally:
            if process is not None and process.poll() is None:
                # The whole tree is one session (bwrap adds --die-with-parent inside it).
                try:
                    os.killpg(process.pid, 9)
                except ProcessLookupError:
                    pass
                process.wait()
            for pipe in (process.stdout, process.stderr) if process is not None else ():
                if pipe is not None:
                    pipe.close()
            for fd in (status_read, status_write, *extra_fds):
                if fd >= 0:
                    os.close(fd)
            if network is not None:
                network.stop()
            shutil.rmtree(scratch, ignore_errors=True)
            watchdog.done(undo_scratch)

    @staticmethod
    def _seccomp_fd(scratch: Path, spec: ProcessSpec) -> int:
        """An open file holding the compiled profile for ``--seccomp``; -1 when none applies."""
        program = None if spec.privileged else compile_profile()
        if program is None:
            return -1
        path = scratch / "seccomp.bpf"
        path.write_bytes(program)
        return os.open(path, os.O_RDONLY)

    def _bwrap_args(self, rootfs: Path, spec: ProcessSpec, etc_files: dict[str, Path], mounts) -> list[str]:
        args = [self.bwrap, "--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
                "--die-with-parent", "--uid", str(spec.uid), "--gid", str(spec.gid),
                "--hostname", spec.hostname]
        if spec.network == "none":
            args.append("--unshare-net")
        if not spec.terminal:
            args.append("--new-session")
        args += ["--bind", str(rootfs), "/", "--proc", "/proc", "--dev", "/dev",
                 "--ro-bind-try", "/sys", "/sys", "--tmpfs", "/dev/shm", "--mqueue", "/dev/mqueue"]
        for container_path, host_path in etc_files.items():
            args += ["--bind", str(host_path), container_path]
        for prepared in mounts:
            mount = prepared.spec
            if mount.kind == "tmpfs":
                if mount.mode is not None:
                    args += ["--perms", f"{mount.mode:o}"]
                if mount.size:
                    args += ["--size", str(mount.size)]
                args += ["--tmpfs", mount.target]
            else:
                args += ["--ro-bind" if prepared.readonly else "--bind", str(prepared.source), mount.target]
        args += ["--cap-drop", "ALL"]
        if spec.privileged:
            args += ["--cap-add", "ALL"]
        elif spec.uid == 0:
            for capability in DOCKER_DEFAULT_CAPABILITIES:
                args += ["--cap-add", capability]
        args += ["--clearenv"]
        for key, value in spec.env_dict.items():
            args += ["--setenv", key, value]
        args += ["--chdir", spec.cwd, "--", *spec.args]
        return args

    def works(self) -> str | None:
        """None when bwrap can make a user namespace here, else why not."""
        if not (shutil.which(self.bwrap) or os.access(self.bwrap, os.X_OK)):
            return "bubblewrap (bwrap) is not installed"
        reason = userns_unavailable_reason()
        if reason:
            return reason
        probe = subprocess.run([self.bwrap, "--unshare-user", "--ro-bind", "/", "/", "true"],
                               capture_output=True, text=True)
        if probe.returncode != 0:
            return f"bwrap cannot create a user namespace: {probe.stderr.strip()}"
        return None


def userns_unavailable_reason(sysctl_dir: Path = Path("/proc/sys"), *,
                              unprivileged: bool | None = None) -> str | None:
    """Why user namespaces are off for us here, from the sysctls that switch them off."""
    if unprivileged is None:
        unprivileged = os.geteuid() != 0
    checks = [
        ("user/max_user_namespaces", "0", True),
        ("kernel/unprivileged_userns_clone", "0", unprivileged),  # Debian's switch
        ("kernel/apparmor_restrict_unprivileged_userns", "1", unprivileged),  # Ubuntu's
    ]
    for name, off_value, applies in checks:
        try:
            value = (sysctl_dir / name).read_text().strip()
        except OSError:
            continue
        if applies and value == off_value:
            return f"user namespaces are disabled here ({name.replace('/', '.')}={value})"
    return None


def _command_exit_code(status_fd: int) -> int | None:
    """The command's exit code from bwrap's JSON status stream, None when it never ran."""
    chunks = []
    while chunk := os.read(status_fd, 65536):
        chunks.append(chunk)
    decoder = json.JSONDecoder()
    text, position, exit_code = b"".join(chunks).decode(errors="replace"), 0, None
    while position < len(text):
        if text[position].isspace():
            position += 1
            continue
        try:
            document, position = decoder.raw_decode(text, position)
        except ValueError:
            break
        if isinstance(document, dict) and "exit-code" in document:
            exit_code = int(document["exit-code"])
    return exit_code


def _exit_code(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode
