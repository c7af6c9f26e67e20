"""The OCI runtime config (config.json) for one process, modelled on Docker's default spec.

Capabilities, masked and read-only paths and the standard mounts follow
moby's ``oci/defaults.go``; ``no_new_privileges`` is always on, and our own
seccomp profile (``seccomp.py``) carries Docker's intent. A private network
joins the namespace ``network.PrivateNetwork`` holds; ``none`` gets a fresh
empty one; ``host`` none at all.
"""

from __future__ import annotations

from pathlib import Path

from layerlab.engine.runtime.container_files import PreparedMount
from layerlab.engine.runtime.seccomp import default_profile
from layerlab.engine.runtime.spec import ProcessSpec

# Docker's default capability set; as a CapEff mask this is 0x00000000a80425fb.
DOCKER_DEFAULT_CAPABILITIES = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
]

MASKED_PATHS = [
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware", "/sys/devices/virtual/powercap",
]

READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]

_STANDARD_MOUNTS = [
    {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
     "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
     "options": ["ro", "nosuid", "noexec", "nodev"]},
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
     "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
]


def runc_config(rootfs: Path, spec: ProcessSpec, etc_files: dict[str, Path],
                mounts: list[PreparedMount], container_id: str, *, netns_path: str | None = None) -> dict:
    namespaces: list[dict[str, str]] = [{"type": kind} for kind in ("pid", "ipc", "uts", "mount")]
    if spec.network == "private":
        if netns_path is None:
            raise ValueError("a private network needs the namespace to join")
        namespaces.append({"type": "network", "path": netns_path})
    elif spec.network == "none":
        namespaces.append({"type": "network"})
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": spec.terminal,
            "user": {"uid": spec.uid, "gid": spec.gid, "additionalGids": list(spec.additional_gids)},
            "args": list(spec.args),
            "env": list(spec.env),
            "cwd": spec.cwd,
            "capabilities": {
                "bounding": DOCKER_DEFAULT_CAPABILITIES,
                "effective": DOCKER_DEFAULT_CAPABILITIES,
                "permitted": DOCKER_DEFAULT_CAPABILITIES,
                "inheritable": [],
                "ambient": [],
            },
            "noNewPrivileges": True,
        },
        "root": {"path": str(Path(rootfs).resolve()), "readonly": False},
        "hostname": spec.hostname,
        "mounts": _STANDARD_MOUNTS
        + [{"destination": path, "type": "bind", "source": str(host), "options": ["rbind", "rprivate"]}
           for path, host in etc_files.items()]
        + [_oci_mount(mount) for mount in mounts],
        "linux": {
            "namespaces": namespaces,
            "maskedPaths": MASKED_PATHS,
            "readonlyPaths": READONLY_PATHS,
            "cgroupsPath": f"/layerlab/{container_id}",
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "seccomp": default_profile(),
        },
    }


def _oci_mount(prepared: PreparedMount) -> dict:
    mount = prepared.spec
    if mount.kind == "tmpfs":
        options = ["nosuid", "nodev"]
        if mount.size:
            options.append(f"size={mount.size}")
        options.append(f"mode={mount.mode:o}" if mount.mode is not None else "mode=1777")
        return {"destination": mount.target, "type": "tmpfs", "source": "tmpfs", "options": options}
    options = ["rbind", "rprivate"] + (["ro"] if prepared.readonly else [])
    return {"destination": mount.target, "type": "bind", "source": str(prepared.source), "options": options}
