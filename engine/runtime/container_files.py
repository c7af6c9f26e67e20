"""Files a container sees that live outside its rootfs, in a per-run scratch dir.

/etc/hosts, /etc/hostname and /etc/resolv.conf are bind-mounted from here,
as Docker does, so whatever the process writes to them is never committed.
Secrets are copied here with the requested owner and mode and bound
read-only; binds that discard writes get a private copy. The scratch dir is
removed after the run, so none of it survives.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from layerlab.engine.errors import NotFound
from layerlab.engine.record_type import record
from layerlab.engine.runtime.network import resolv_conf_for_private
from layerlab.engine.runtime.spec import MountSpec, ProcessSpec

_DEFAULT_HOSTS = """127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
fe00::0\tip6-localnet
ff00::0\tip6-mcastprefix
ff02::1\tip6-allnodes
ff02::2\tip6-allrouters
"""

ETC_FILES = ("/etc/hosts", "/etc/hostname", "/etc/resolv.conf")


@record(frozen=True)
class PreparedMount:
    """A mount ready for a runtime: the host source to bind (None for tmpfs) and how."""

    spec: MountSpec
    source: Path | None
    readonly: bool


def write_etc_files(scratch: Path, spec: ProcessSpec) -> dict[str, Path]:
    """Write hosts/hostname/resolv.conf into ``scratch``; returns container path -> host file."""
    etc = scratch / "etc"
    etc.mkdir(parents=True, exist_ok=True)
    hosts = _DEFAULT_HOSTS + f"127.0.1.1\t{spec.hostname}\n"
    if spec.network == "host":
        hosts = _read_host_file("/etc/hosts") or hosts
    files = {
        "/etc/hosts": hosts,
        "/etc/hostname": spec.hostname + "\n",
        "/etc/resolv.conf": _resolv_conf(spec.network),
    }
    written: dict[str, Path] = {}
    for container_path, text in files.items():
        host_path = etc / os.path.basename(container_path)
        host_path.write_text(text, encoding="utf-8")
        host_path.chmod(0o644)
        written[container_path] = host_path
    return written


def _read_host_file(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _resolv_conf(network: str) -> str:
    text = _read_host_file("/etc/resolv.conf")
    if network == "host":
        return text
    if network == "private":
        return resolv_conf_for_private(text)
    # Without a network a host-local resolver is unreachable anyway; keep search/options only.
    kept = [line for line in text.splitlines()
            if not (line.split()[:1] == ["nameserver"] and _is_loopback(line.split()[1:2]))]
    return "\n".join(kept) + ("\n" if kept else "")


def _is_loopback(address: list[str]) -> bool:
    return bool(address) and (address[0].startswith("127.") or address[0] == "::1")


def prepare_mounts(scratch: Path, mounts: list[MountSpec]) -> list[PreparedMount]:
    """Copy secrets and discard-writes binds into ``scratch``; return what each runtime binds."""
    prepared: list[PreparedMount] = []
    for index, mount in enumerate(mounts):
        if mount.source is not None and not os.path.lexists(mount.source):
            what = f"secret {mount.secret_id!r}" if mount.kind == "secret" else f"{mount.kind} mount source"
            raise NotFound(f"{what} for {mount.target}: {mount.source} does not exist")
        if mount.kind == "tmpfs":
            prepared.append(PreparedMount(mount, None, False))
        elif mount.kind == "secret":
            copy = scratch / "secrets" / str(index)
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.parent.chmod(0o700)
            shutil.copyfile(mount.source, copy)
            _own(copy, mount.uid, mount.gid)
            copy.chmod(mount.mode if mount.mode is not None else 0o400)
            prepared.append(PreparedMount(mount, copy, True))
        elif mount.kind == "bind" and mount.discard_writes and not mount.readonly:
            copy = scratch / "binds" / str(index)
            copy.parent.mkdir(parents=True, exist_ok=True)
            if Path(mount.source).is_dir():
                shutil.copytree(mount.source, copy, symlinks=True)
            else:
                shutil.copy2(mount.source, copy)
            prepared.append(PreparedMount(mount, copy, False))
        else:
            prepared.append(PreparedMount(mount, Path(mount.source), mount.readonly and mount.kind != "cache"))
    return prepared


def _own(path: Path, uid: int, gid: int) -> None:
    if os.geteuid() == 0:
        os.chown(path, uid, gid)


def mount_targets(spec: ProcessSpec) -> dict[str, bool]:
    """Every mount point a runtime needs in the rootfs: container path -> is a directory."""
    targets = {"/proc": True, "/sys": True, "/dev": True}
    targets.update({path: False for path in ETC_FILES})
    for mount in spec.mounts:
        is_dir = mount.kind in ("tmpfs", "cache") or (mount.kind == "bind" and Path(mount.source).is_dir())
        targets[mount.target] = is_dir
    return targets
