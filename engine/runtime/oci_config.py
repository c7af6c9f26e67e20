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

# Capability numbers, as in linux/capability.h (0 .. 40, Linux 5.9).
_CAPABILITY_NAMES = [
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
    "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
    "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
    "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
    "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
    "CHECKPOINT_RESTORE",
]


def privileged_capabilities(status: Path = Path("/proc/self/status")) -> list[str]:
    """What Docker's --privileged grants: every capability we hold in our own bounding set."""
    try:
        line = next(line for line in status.read_text().splitlines() if line.startswith("CapBnd:"))
        bounding = int(line.split()[1], 16)
    except (OSError, StopIteration, ValueError, IndexError):
        return list(DOCKER_DEFAULT_CAPABILITIES)
    return [f"CAP_{name}" for number, name in enumerate(_CAPABILITY_NAMES) if bounding >> number & 1]


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
    capabilities = privileged_capabilities() if spec.privileged else DOCKER_DEFAULT_CAPABILITIES
    linux: dict[str, object] = {
        "namespaces": namespaces,
        "maskedPaths": [] if spec.privileged else MASKED_PATHS,
        "readonlyPaths": [] if spec.privileged else READONLY_PATHS,
        "cgroupsPath": f"/layerlab/{container_id}",
        "resources": {"devices": [{"allow": False, "access": "rwm"}]},
    }
    if not spec.privileged:
        linux["seccomp"] = default_profile()
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": spec.terminal,
            "user": {"uid": spec.uid, "gid": spec.gid, "additionalGids": list(spec.additional_gids)},
            "args": list(spec.args),
            "env": list(spec.env),
            "cwd": spec.cwd,
            "capabilities": {
                "bounding": capabilities,
                "effective": capabilities,
                "permitted": capabilities,
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
        "linux": linux,
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
