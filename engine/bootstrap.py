"""A busybox base image made from the host's static busybox, reproducibly.

The rootfs holds ``bin/busybox``, one symlink per applet that
``busybox --list-full`` reports, ``/etc/passwd`` and ``/etc/group`` (root and
nobody) and ``/tmp`` (1777). Every entry has mtime 0 and owner 0:0, entries
are sorted, and the config's ``created`` is the epoch, so the same busybox
binary gives the same image ID on every machine. It is the offline base for
sample contexts and tests.
"""

from __future__ import annotations

import io
import os
import posixpath
import struct
import subprocess
import tarfile

from layerlab.engine.errors import NotFound, UsageError
from layerlab.engine.oci.config import ImageConfig
from layerlab.engine.record_type import record
from layerlab.engine.transports.memory import BytesLayer, ConfigImage
from layerlab.engine.transports.oci_layout import host_platform_spec

DEFAULT_BUSYBOX = "/bin/busybox"
DEFAULT_REF = "busybox:latest"
EPOCH = "1970-01-01T00:00:00Z"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_DIRECTORIES = {"bin": 0o755, "dev": 0o755, "etc": 0o755, "home": 0o755, "proc": 0o755, "root": 0o700,
                "sbin": 0o755, "sys": 0o755, "tmp": 0o1777, "usr": 0o755, "usr/bin": 0o755, "usr/sbin": 0o755,
                "var": 0o755}
_PASSWD = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"
_GROUP = b"root:x:0:\nnobody:x:65534:\n"


@record(frozen=True)
class BusyboxInfo:
    version: str
    applets: tuple[str, ...]


def _is_static(binary: bytes) -> bool:
    """True when the ELF file has no PT_INTERP (no dynamic loader needed)."""
    if binary[:4] != b"\x7fELF":
        return False
    is64 = binary[4] == 2
    endian = "<" if binary[5] == 1 else ">"
    if is64:
        phoff, = struct.unpack_from(endian + "Q", binary, 0x20)
        phentsize, phnum = struct.unpack_from(endian + "HH", binary, 0x36)
    else:
        phoff, = struct.unpack_from(endian + "I", binary, 0x1C)
        phentsize, phnum = struct.unpack_from(endian + "HH", binary, 0x2A)
    for number in range(phnum):
        p_type, = struct.unpack_from(endian + "I", binary, phoff + number * phentsize)
        if p_type == 3:  # PT_INTERP
            return False
    return True


def probe_busybox(path: str) -> BusyboxInfo:
    """Ask the binary for its version line and applet paths."""
    listing = subprocess.run([path, "--list-full"], capture_output=True, check=False)
    if listing.returncode != 0:
        raise UsageError(f"{path}: 'busybox --list-full' failed: {listing.stderr.decode(errors='replace').strip()}")
    banner = subprocess.run([path], capture_output=True, check=False).stdout.decode(errors="replace")
    version = banner.splitlines()[0].strip() if banner else "BusyBox"
    applets = sorted({line.strip().lstrip("/") for line in listing.stdout.decode().splitlines() if line.strip()})
    return BusyboxInfo(version, tuple(a for a in applets if a != "bin/busybox" and ".." not in a.split("/")))


def rootfs_tar(binary: bytes, applets: tuple[str, ...]) -> bytes:
    """The layer tar: deterministic bytes for a given binary and applet list."""
    entries: dict[str, tarfile.TarInfo] = {}
    payloads: dict[str, bytes] = {}

    def add(name: str, kind: bytes, mode: int, data: bytes = b"", link: str = "") -> None:
        info = tarfile.TarInfo(name)
        info.type, info.mode, info.mtime, info.uid, info.gid = kind, mode, 0, 0, 0
        info.uname = info.gname = ""
        info.linkname = link
        info.size = len(data) if kind == tarfile.REGTYPE else 0
        entries[name] = info
        payloads[name] = data

    for directory, mode in _DIRECTORIES.items():
        add(directory, tarfile.DIRTYPE, mode)
    for applet in applets:
        parent = posixpath.dirname(applet)
        while parent and parent not in entries:
            add(parent, tarfile.DIRTYPE, 0o755)
            parent = posixpath.dirname(parent)
        target = posixpath.relpath("bin/busybox", posixpath.dirname(applet) or ".")
        add(applet, tarfile.SYMTYPE, 0o777, link=target)
    add("bin/busybox", tarfile.REGTYPE, 0o755, binary)
    add("etc/passwd", tarfile.REGTYPE, 0o644, _PASSWD)
    add("etc/group", tarfile.REGTYPE, 0o644, _GROUP)
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in sorted(entries):
            info = entries[name]
            tar.addfile(info, io.BytesIO(payloads[name]) if info.isreg() else None)
    return out.getvalue()


def busybox_image(busybox_path: str = DEFAULT_BUSYBOX) -> ConfigImage:
    """The bootstrap image for the busybox binary at ``busybox_path``."""
    if not os.path.exists(busybox_path):
        raise NotFound(f"{busybox_path}: no such file (install the busybox-static package)")
    with open(busybox_path, "rb") as handle:
        binary = handle.read()
    if not _is_static(binary):
        raise UsageError(f"{busybox_path}: not a statically linked ELF binary (install busybox-static)")
    info = probe_busybox(busybox_path)
    layer = BytesLayer(rootfs_tar(binary, info.applets))
    spec = host_platform_spec()
    config = ImageConfig.from_dict({
        "architecture": spec.architecture,
        "os": "linux",
        "created": EPOCH,
        "config": {"Env": [PATH_ENV], "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [str(layer.diff_id)]},
        "history": [
            {"created": EPOCH, "created_by": f"layerlab bootstrap busybox ({info.version})"},
            {"created": EPOCH, "created_by": '/bin/sh -c #(nop)  CMD ["sh"]', "empty_layer": True},
        ],
    })
    return ConfigImage(config.to_bytes(), (layer,))
