"""stage_copy against the real classic builder: the same COPY/ADD, the same layer.

Each case builds ``FROM <our busybox>`` plus a few instructions with
``docker build`` (DOCKER_BUILDKIT=0), reads the last layer of the saved
image, and compares it entry by entry (path, type, mode, uid, gid, size,
content, link target, and mtime for everything but directories) with the
layer written from what ``stage_copy`` staged over the image's earlier
layers.
"""

from __future__ import annotations

import bz2
import gzip
import http.server
import io
import lzma
import os
import tarfile
import threading
import uuid
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

import pytest

from layerlab.engine.builder.copy.ops import CopyRequest, stage_copy
from layerlab.engine.dockerfile.dockerignore import Matcher
from layerlab.engine.layers.stack import LayerStack
from layerlab.engine.layers.write import write_layer_from_dir
from tests.build_copy.trees import docker_layers, layer_rows, rootfs_from, staged_rows
from tests.peers import need_program

pytestmark = pytest.mark.peers

MTIME = 1_600_000_000


@pytest.fixture(scope="module")
def docker_base(docker, tmp_path_factory):
    """Our bootstrap busybox, loaded into docker under a unique tag (offline)."""
    from layerlab.cli.main import main

    busybox = need_program("busybox")
    work = tmp_path_factory.mktemp("base")
    tag = f"layerlab-copy-{uuid.uuid4().hex[:8]}:base"
    root = ["--root", str(work / "root")]
    assert main([*root, "bootstrap", "busybox", tag, "--busybox", busybox]) == 0
    assert main([*root, "save", "-o", str(work / "base.tar"), tag]) == 0
    docker.run("load", "-i", str(work / "base.tar"))
    yield tag
    docker.run("rmi", "-f", tag, check=False)


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    """A file server on 127.0.0.1 only; Last-Modified comes from the files' mtimes."""
    served = tmp_path_factory.mktemp("served")
    (served / "payload.bin").write_bytes(b"downloaded content\n" * 50)
    os.utime(served / "payload.bin", (MTIME + 77, MTIME + 77))
    handler = partial(_QuietHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


# -- building the context --------------------------------------------------------


def _file(context: Path, rel: str, data: bytes = b"", mode: int = 0o644, mtime: int = MTIME) -> None:
    path = context / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data or f"content of {rel}\n".encode())
    os.chmod(path, mode)
    os.utime(path, (mtime, mtime))


def _dir(context: Path, rel: str, mode: int = 0o755) -> None:
    path = context / rel
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, mode)
    os.utime(path, (MTIME, MTIME))


def _symlink(context: Path, rel: str, target: str) -> None:
    path = context / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, path)
    os.utime(path, (MTIME, MTIME), follow_symlinks=False)


def _tar(context: Path, rel: str, compress: Callable[[bytes], bytes], members: list[tuple]) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, kind, mode, owner, data in members:
            info = tarfile.TarInfo(name)
            info.mode, (info.uid, info.gid), info.mtime = mode, owner, MTIME - 1000
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, data
                archive.addfile(info)
            else:
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    _file(context, rel, compress(buffer.getvalue()))


def _rich_dir(context: Path, rel: str) -> None:
    """A directory with a nested file, an odd mode, a symlink, a hard link and an empty directory."""
    _file(context, f"{rel}/top.txt")
    _file(context, f"{rel}/run.sh", mode=0o755)
    _file(context, f"{rel}/secret", mode=0o600)
    _file(context, f"{rel}/sub/deep.txt")
    os.link(context / rel / "sub/deep.txt", context / rel / "hard.txt")
    _symlink(context, f"{rel}/link", "top.txt")
    _symlink(context, f"{rel}/abs-link", "/etc/passwd")
    _dir(context, f"{rel}/empty", 0o700)
    _dir(context, f"{rel}/sub", 0o750)
    _dir(context, rel, 0o755)


@dataclass
class Case:
    name: str
    before: list[str]                 # instructions between FROM and the compared one
    instruction: str                  # the COPY/ADD compared; "{url}" is the test server
    request: Callable[[str], CopyRequest]
    setup: Callable[[Path], None]
    ignore: str = ""                  # .dockerignore text
    from_stage: CopyRequest | None = None  # what the --from stage adds on top of the base, staged by us


def _context_basic(context: Path) -> None:
    _file(context, "a.txt")
    _file(context, "b.txt", mode=0o640)
    _file(context, "tool", mode=0o4755)
    _file(context, "sgid", mode=0o2750)
    _file(context, "sgid-nox", mode=0o2640)
    _symlink(context, "lnk", "a.txt")
    _symlink(context, "dirlink", "tree")
    _rich_dir(context, "tree")
    _dir(context, "empty", 0o711)
    _file(context, "merge/etc/extra.conf")
    _file(context, "merge/usr/bin/tool2", mode=0o755)
    _dir(context, "merge/etc", 0o750)
    _dir(context, "merge", 0o755)
    _tar(context, "link.tar", lambda data: data, [("cfg", "symlink", 0o777, (0, 0), "etc")])
    members = [("pkg/", "dir", 0o750, (1234, 4321), b""), ("pkg/bin/run", "file", 0o755, (1234, 4321), b"#!\n"),
               ("pkg/README", "file", 0o600, (0, 0), b"read me\n"), ("pkg/ln", "symlink", 0o777, (0, 0), "README"),
               ("etc/added.conf", "file", 0o644, (5, 5), b"x=1\n")]
    _tar(context, "pkg.tar.gz", partial(gzip.compress, mtime=0), members)
    _tar(context, "pkg.tar.xz", lzma.compress, members)
    _tar(context, "pkg.tar.bz2", bz2.compress, members)
    _tar(context, "pkg.tar", lambda data: data, members)
    _file(context, "fake.tar.gz", b"\x1f\x8bnot really gzip data at all\n")


def _req(*words: str, **options) -> Callable[[str], CopyRequest]:
    def make(url: str) -> CopyRequest:
        *sources, dest = [word.replace("{url}", url) for word in words]
        return CopyRequest(sources=sources, dest=dest, **options)
    return make


CASES = [
    Case("file-into-dir", [], "COPY a.txt /opt/", _req("a.txt", "/opt/"), _context_basic),
    Case("file-to-new-name", [], "COPY b.txt /renamed", _req("b.txt", "/renamed"), _context_basic),
    Case("file-into-existing-dir-no-slash", [], "COPY tool /bin", _req("tool", "/bin"), _context_basic),
    Case("setid-bits", [], "COPY sgid sgid-nox /ids/", _req("sgid", "sgid-nox", "/ids/"), _context_basic),
    Case("dir-to-new-dir", [], "COPY tree /opt/tree", _req("tree", "/opt/tree"), _context_basic),
    Case("dir-merge-into-image", [], "COPY merge/ /", _req("merge/", "/"), _context_basic),
    Case("wildcard", [], "COPY *.txt /w/", _req("*.txt", "/w/"), _context_basic),
    Case("several-sources", [], "COPY a.txt tree empty /m/", _req("a.txt", "tree", "empty", "/m/"), _context_basic),
    Case("workdir-relative", ["WORKDIR /work"], "COPY a.txt rel/", _req("a.txt", "rel/", workdir="/work"),
         _context_basic),
    Case("chown-file-new-parents", [], "COPY --chown=1000:1001 a.txt /deep/er/a.txt",
         _req("a.txt", "/deep/er/a.txt", chown=(1000, 1001)), _context_basic),
    Case("chown-dir-new-parents", [], "COPY --chown=1000:1001 tree /deep/er/tree",
         _req("tree", "/deep/er/tree", chown=(1000, 1001)), _context_basic),
    Case("symlink-as-source", [], "COPY lnk dirlink /s/", _req("lnk", "dirlink", "/s/"), _context_basic),
    Case("empty-dir", [], "COPY empty /e", _req("empty", "/e"), _context_basic),
    Case("dest-through-image-symlink", ["ADD link.tar /"], "COPY a.txt tree /cfg/",
         _req("a.txt", "tree", "/cfg/"), _context_basic),
    Case("add-tar-gz", [], "ADD pkg.tar.gz /x/", _req("pkg.tar.gz", "/x/", is_add=True), _context_basic),
    Case("add-tar-xz-into-root", [], "ADD pkg.tar.xz /", _req("pkg.tar.xz", "/", is_add=True), _context_basic),
    Case("add-tar-bz2", [], "ADD pkg.tar.bz2 /y", _req("pkg.tar.bz2", "/y", is_add=True), _context_basic),
    Case("add-plain-tar", [], "ADD pkg.tar /z/", _req("pkg.tar", "/z/", is_add=True), _context_basic),
    Case("add-not-a-tar", [], "ADD fake.tar.gz /f/", _req("fake.tar.gz", "/f/", is_add=True), _context_basic),
    Case("dockerignore-inside-dir", [], "COPY . /all/", _req(".", "/all/"), _context_basic,
         ignore="tree/secret\n*.tar*\nmerge\n"),
    Case("from-stage-keeps-owners", ["AS src", "ADD pkg.tar.gz /src/", "FROM {base}"], "COPY --from=src /src /p",
         _req("/src", "/p", from_source="src"), _context_basic,
         from_stage=CopyRequest(["pkg.tar.gz"], "/src/", is_add=True)),
    Case("from-stage-with-chown", ["AS src", "ADD pkg.tar.gz /src/", "FROM {base}"],
         "COPY --from=src --chown=9:9 /src/pkg/bin/run /src/pkg /q/",
         _req("/src/pkg/bin/run", "/src/pkg", "/q/", from_source="src", chown=(9, 9)), _context_basic,
         from_stage=CopyRequest(["pkg.tar.gz"], "/src/", is_add=True)),
    Case("add-url", [], "ADD {url}/payload.bin /dl/", _req("{url}/payload.bin", "/dl/", is_add=True),
         _context_basic),
    Case("add-url-new-name", [], "ADD --chown=7:8 {url}/payload.bin /got",
         _req("{url}/payload.bin", "/got", is_add=True, chown=(7, 8)), _context_basic),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_staged_layer_matches_docker(case: Case, docker, docker_base: str, web: str, tmp_path: Path) -> None:
    context = tmp_path / "context"
    context.mkdir()
    case.setup(context)
    if case.ignore:
        (context / ".dockerignore").write_text(case.ignore)
    before = [line.replace("{base}", docker_base) for line in case.before]
    first = f"FROM {docker_base} {before.pop(0)}" if before and before[0].startswith("AS ") else f"FROM {docker_base}"
    lines = [first, *before, case.instruction.replace("{url}", web)]
    (context / "Dockerfile").write_text("\n".join(lines) + "\n")
    tag = f"{docker_base.split(':')[0]}:{case.name}"
    # a --from stage is built and tagged first, so that removing the tag leaves no untagged image behind
    tags = [f"{tag}-src", tag] if case.from_stage is not None else [tag]
    try:
        if case.from_stage is not None:
            docker.run("build", "--network", "none", "-q", "--target", "src", "-t", tags[0], str(context))
        docker.run("build", "--network", "none", "-q", "-t", tag, str(context))
        docker.run("save", "-o", str(tmp_path / "image.tar"), tag)
    finally:
        for name in tags:
            docker.run("rmi", "-f", name, check=False)
    layers = docker_layers(tmp_path / "image.tar")
    expected = layer_rows(layers[-1])

    image_root = rootfs_from(layers[:-1], tmp_path / "rootfs")
    source_root = context
    if case.from_stage is not None:
        source_root = _stage_rootfs(case.from_stage, context, layers[:-1], tmp_path / "stage")
    out = tmp_path / "out"
    out.mkdir()
    excluder = Matcher.for_context(context) if case.ignore else None
    stage_copy(case.request(web), source_root=source_root, source_excluder=excluder, image=LayerStack.of([image_root]),
               out_dir=out)
    assert staged_rows(out) == expected


def _stage_rootfs(request: CopyRequest, context: Path, base: list[bytes], where: Path) -> Path:
    """The rootfs of a stage that is the base plus one COPY/ADD, staged by us."""
    staged = where / "staged"
    staged.mkdir(parents=True)
    base_root = rootfs_from(base, where / "base")
    stage_copy(request, source_root=context, source_excluder=None, image=LayerStack.of([base_root]), out_dir=staged)
    layer = io.BytesIO()
    write_layer_from_dir(staged, layer)
    return rootfs_from([*base, layer.getvalue()], where / "rootfs")


ERRORS = [
    ("missing", "COPY missing.txt /x", _req("missing.txt", "/x")),
    ("ignored", "COPY secret.txt /x", _req("secret.txt", "/x")),
    ("several-without-slash", "COPY a.txt b.txt /x", _req("a.txt", "b.txt", "/x")),
    ("wildcard-no-match", "COPY *.none /x/", _req("*.none", "/x/")),
    ("url-in-copy", "COPY http://127.0.0.1:1/f /x", _req("http://127.0.0.1:1/f", "/x")),
]


@pytest.mark.parametrize("instruction,request_for", [case[1:] for case in ERRORS], ids=[case[0] for case in ERRORS])
def test_error_text_matches_docker(instruction: str, request_for, docker, docker_base: str, tmp_path: Path) -> None:
    from layerlab.engine.errors import BuildError

    context = tmp_path / "context"
    context.mkdir()
    _file(context, "a.txt")
    _file(context, "b.txt")
    _file(context, "secret.txt")
    (context / ".dockerignore").write_text("secret.txt\n")
    (context / "Dockerfile").write_text(f"FROM {docker_base}\n{instruction}\n")
    tag = f"{docker_base.split(':')[0]}:failing"
    built = docker.run("build", "--network", "none", "-q", "-t", tag, str(context), check=False)
    docker.run("rmi", "-f", tag, check=False)
    assert built.returncode != 0
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(BuildError) as raised:
        stage_copy(request_for(""), source_root=context, source_excluder=Matcher.for_context(context),
                   image=None, out_dir=out)
    assert str(raised.value) in built.stderr.decode()
