"""The Debian base image of the distro scenarios: made once by debootstrap, cached, shared by every builder.

``debootstrap --variant=minbase --include=python3 bookworm`` (about 9,000
files) from the Debian mirror this machine's apt sources name, packed as a
root filesystem tar under the cache directory (``Options.cache``, kept
between runs). Every builder starts from the same image: layerlab imports the
tar (``layerlab import``) and unpacks its snapshot (``layerlab run``, as
``docker load`` and ``buildah pull`` unpack theirs, untimed), saves it as a
docker-archive, and docker and buildah load that archive, so all three build
on identical layers.

With ``--quick`` the base is layerlab's offline busybox bootstrap instead:
seconds, no network, no root (the smoke tests use it).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.harness import Unavailable, find_program, layerlab, python_env, run_checked

SUITE = "bookworm"
APT_SOURCES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))


def debian_mirror(sources: tuple[Path, ...] = APT_SOURCES, suite: str = SUITE) -> str:
    """The first ``deb`` URI the apt sources list for ``suite`` itself (not -security or -updates)."""
    for path in _source_files(sources):
        text = path.read_text(errors="replace")
        entries = _deb822_entries(text) if path.suffix == ".sources" else _one_line_entries(text)
        for types, uris, suites in entries:
            if "deb" in types and suite in suites and uris:
                return uris[0].rstrip("/")
    raise Unavailable(f"no Debian mirror for {suite} in the apt sources ({', '.join(map(str, sources))})")


def _source_files(sources: tuple[Path, ...]) -> list[Path]:
    found = []
    for source in sources:
        if source.is_dir():
            # apt reads only these two suffixes; "foo.list.disabled" is not a source
            found += sorted(p for p in source.iterdir() if p.suffix in (".list", ".sources") and p.is_file())
        elif source.is_file():
            found.append(source)
    return found


def _one_line_entries(text: str) -> list[tuple[list[str], list[str], list[str]]]:
    entries = []
    for line in text.splitlines():
        line = re.sub(r"\[[^\]]*\]", " ", line.split("#", 1)[0]).split()  # drop [options]
        if len(line) >= 3:
            entries.append(([line[0]], [line[1]], [line[2]]))
    return entries


def _deb822_entries(text: str) -> list[tuple[list[str], list[str], list[str]]]:
    entries = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, list[str]] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line:
                continue
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.split()
        if fields.get("enabled", ["yes"])[0].lower() == "no":
            continue
        entries.append((fields.get("types", []), fields.get("uris", []), fields.get("suites", [])))
    return entries


def debootstrap_tar(cache: Path) -> Path:
    """The cached root filesystem tar, made on first use (minutes: it downloads about 40 MB)."""
    target = cache / f"debian-{SUITE}-minbase-python3.tar"
    if target.exists():
        return target
    debootstrap = find_program("debootstrap")
    if not debootstrap:
        raise Unavailable("debootstrap is not installed (scripts/setup installs it)")
    if os.geteuid() != 0:
        raise Unavailable("debootstrap needs root")
    mirror = debian_mirror()
    cache.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="debootstrap-", dir=cache))
    try:
        rootfs = scratch / "rootfs"
        try:
            run_checked([debootstrap, "--variant=minbase", "--include=python3", SUITE, rootfs, mirror],
                        timeout=1800)
        finally:
            _unmount_beneath(rootfs)  # debootstrap can leave the host's /proc mounted in there
        # apt's downloaded packages are not part of the image a user would build on
        shutil.rmtree(rootfs / "var" / "cache" / "apt" / "archives", ignore_errors=True)
        partial = scratch / "rootfs.tar"
        # device nodes are the runtime's to make, as in every published image: /dev stays empty
        run_checked(["tar", "-C", rootfs, "--numeric-owner", "--xattrs", "--one-file-system", "--exclude=./dev/*",
                     "--exclude=./proc/*", "--exclude=./sys/*", "-cf", partial, "."])
        os.replace(partial, target)
    finally:
        subprocess.run(["rm", "-rf", "--one-file-system", str(scratch)], check=False)
    return target


def _unmount_beneath(path: Path) -> None:
    prefix = str(path.resolve()) + "/"
    with open("/proc/self/mounts") as mounts:
        points = [line.split()[1] for line in mounts if line.split()[1].startswith(prefix)]
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], check=False)


class BaseImage:
    """The base in a layerlab root (copied per run) and as a docker-archive for the peers."""

    def __init__(self, work: Path, cache: Path, quick: bool, tag: str) -> None:
        self.work, self.cache, self.quick, self.tag = work, cache, quick, tag
        self.root = work / "base-root"
        self.archive = work / "base.tar"
        self.facts: dict = {}

    def make(self) -> dict:
        if self.facts:
            return self.facts
        self.work.mkdir(parents=True, exist_ok=True)
        env = python_env()
        if self.quick:
            busybox = find_program("busybox")
            if not busybox:
                raise Unavailable("busybox is not installed")
            run_checked(layerlab(self.root, "bootstrap", "busybox", self.tag, "--busybox", busybox), env=env)
            self.facts = {"base": "busybox (bootstrap)", "base_files": "~400"}
        else:
            rootfs = debootstrap_tar(self.cache)
            run_checked(layerlab(self.root, "import", rootfs, self.tag), env=env)
            files = sum(1 for line in run_checked(["tar", "-tf", rootfs]).splitlines() if not line.endswith("/"))
            self.facts = {"base": f"debian {SUITE} minbase + python3 (debootstrap)", "base_files": files,
                          "base_tar_bytes": rootfs.stat().st_size}
        # docker load and buildah pull unpack the base (untimed); layerlab's snapshot of it is made here too
        run_checked(layerlab(self.root, "run", "--network", "none", self.tag, "true"), env=env)
        run_checked(layerlab(self.root, "save", "-o", self.archive, self.tag), env=env)
        return self.facts
