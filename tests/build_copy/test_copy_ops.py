"""stage_copy without docker: BuildKit-only flags, --from, errors, safety, ADD of archives and URLs."""

from __future__ import annotations

import hashlib
import http.server
import io
import os
import tarfile
import tempfile
import threading
from functools import partial
from pathlib import Path

import pytest
import zstandard

from layerlab.engine.builder.copy.ops import CopyRequest, normalize_dest, stage_copy
from layerlab.engine.dockerfile.dockerignore import Matcher
from layerlab.engine.errors import BuildError
from layerlab.engine.layers.stack import LayerStack
from tests.build_copy.trees import staged_rows

MTIME = 1_500_000_000


def _write(root: Path, rel: str, data: bytes = b"data\n", mode: int = 0o644) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.chmod(path, mode)
    os.utime(path, (MTIME, MTIME))
    return path


@pytest.fixture
def context(tmp_path: Path) -> Path:
    root = tmp_path / "context"
    _write(root, "a.txt", b"a\n")
    _write(root, "b.md", b"bb\n")
    _write(root, "tree/keep.txt", b"keep\n")
    _write(root, "tree/skip.txt", b"skip\n")
    _write(root, "tree/sub/deep.log", b"deep\n", 0o600)
    _write(root, "tree/sub/deep.txt", b"deep txt\n")
    os.link(root / "tree/keep.txt", root / "tree/keep-again.txt")
    return root


@pytest.fixture
def image(tmp_path: Path) -> Path:
    root = tmp_path / "image"
    (root / "etc").mkdir(parents=True)
    os.chmod(root / "etc", 0o751)
    (root / "app").mkdir()
    os.symlink("etc", root / "cfg")
    return root


def stage(req: CopyRequest, source_root: Path, tmp_path: Path, *, image_root: Path | None = None,
          excluder=None) -> tuple[dict[str, tuple], Path]:
    out = Path(tempfile.mkdtemp(prefix="out-", dir=tmp_path))
    image = LayerStack.of([image_root]) if image_root is not None else None
    stage_copy(req, source_root=source_root, source_excluder=excluder, image=image, out_dir=out)
    return staged_rows(out), out


def test_normalize_dest_joins_workdir_and_keeps_the_slash() -> None:
    assert normalize_dest("/app", "x/") == "/app/x/"
    assert normalize_dest("/app", ".") == "/app"
    assert normalize_dest("", "x") == "/x"
    assert normalize_dest("/app", "/abs") == "/abs"
    assert normalize_dest("/app/sub", "../y/") == "/app/y/"


def test_dot_dest_is_the_workdir_directory(context: Path, image: Path, tmp_path: Path) -> None:
    rows, _ = stage(CopyRequest(["a.txt"], ".", workdir="/app"), context, tmp_path, image_root=image)
    assert set(rows) == {"app", "app/a.txt"}


def test_result_lists_files_and_counts_a_hard_linked_inode_once(context: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    result = stage_copy(CopyRequest(["tree"], "/t/"), source_root=context, source_excluder=None,
                        image=None, out_dir=out)
    assert result.files[:3] == ["t", "t/keep-again.txt", "t/keep.txt"]
    assert result.bytes == len(b"keep\n") + len(b"skip\n") + len(b"deep\n") + len(b"deep txt\n")
    assert os.stat(out / "t/keep.txt").st_ino == os.stat(out / "t/keep-again.txt").st_ino


def test_chmod_sets_copied_files_and_dirs_but_not_created_parents(context: Path, tmp_path: Path) -> None:
    rows, _ = stage(CopyRequest(["tree"], "/opt/t", chmod=0o750), context, tmp_path)
    assert rows["opt"][1] == "0o755"
    assert {rows[p][1] for p in ("opt/t", "opt/t/sub", "opt/t/keep.txt", "opt/t/sub/deep.log")} == {"0o750"}


def test_chmod_keeps_the_setuid_bit_it_names(context: Path, tmp_path: Path) -> None:
    rows, _ = stage(CopyRequest(["a.txt"], "/bin/a", chmod=0o4755), context, tmp_path)
    assert rows["bin/a"][1] == "0o4755"


def test_link_ignores_the_image_symlinks_and_dirs(context: Path, image: Path, tmp_path: Path) -> None:
    rows, _ = stage(CopyRequest(["a.txt"], "/cfg/", link=True), context, tmp_path, image_root=image)
    assert set(rows) == {"cfg", "cfg/a.txt"} and rows["cfg"][:4] == ("dir", "0o755", 0, 0)
    rows_plain, _ = stage(CopyRequest(["a.txt"], "/cfg/"), context, tmp_path, image_root=image)
    assert set(rows_plain) == {"etc", "etc/a.txt"} and rows_plain["etc"][1] == "0o751"


def test_exclude_patterns_skip_files_and_whole_dirs(context: Path, tmp_path: Path) -> None:
    req = CopyRequest(["tree"], "/t/", excludes=["skip.txt", "sub/*.log"])
    rows, _ = stage(req, context, tmp_path)
    assert set(rows) == {"t", "t/keep.txt", "t/keep-again.txt", "t/sub", "t/sub/deep.txt"}
    rows, _ = stage(CopyRequest(["*"], "/w/", excludes=["*.md", "tree"]), context, tmp_path)
    assert set(rows) == {"w", "w/a.txt"}


def test_parents_keeps_source_directories_below_the_pivot(context: Path, tmp_path: Path) -> None:
    req = CopyRequest(["tree/sub/deep.txt", "./tree/./sub/deep.log", "a.txt"], "/p/", parents=True)
    rows, _ = stage(req, context, tmp_path)
    assert {"p/tree/sub/deep.txt", "p/sub/deep.log", "p/a.txt"} <= set(rows)
    assert "p/deep.txt" not in rows


def test_from_keeps_owners_and_setuid_unless_chown(tmp_path: Path) -> None:
    stage_root = tmp_path / "stage"
    tool = _write(stage_root, "usr/bin/tool", b"#!\n", 0o755)
    os.chown(tool, 123, 456)
    os.chmod(tool, 0o4755)
    rows, _ = stage(CopyRequest(["/usr/bin/tool"], "/bin/", from_source="builder"), stage_root, tmp_path)
    assert rows["bin/tool"][1:4] == ("0o4755", 123, 456)
    rows, _ = stage(CopyRequest(["/usr/bin/tool"], "/bin/", from_source="builder", chown=(7, 7)), stage_root,
                    tmp_path)
    assert rows["bin/tool"][1:4] == ("0o755", 7, 7)


def test_from_missing_source_names_the_path_without_the_context_hint(tmp_path: Path) -> None:
    (tmp_path / "stage").mkdir()
    with pytest.raises(BuildError, match=r"^COPY failed: stat nope: file does not exist$"):
        stage(CopyRequest(["/nope"], "/x", from_source="0"), tmp_path / "stage", tmp_path)


def test_dockerignore_hides_sources_inside_directories_and_from_wildcards(context: Path, tmp_path: Path) -> None:
    excluder = Matcher(["tree/skip.txt", "*.md"])
    rows, _ = stage(CopyRequest(["tree", "*"], "/d/"), context, tmp_path, excluder=excluder)
    assert "d/skip.txt" not in rows and "d/b.md" not in rows and "d/keep.txt" in rows and "d/a.txt" in rows
    with pytest.raises(BuildError, match="excluded by .dockerignore: stat b.md: file does not exist"):
        stage(CopyRequest(["b.md"], "/x"), context, tmp_path, excluder=excluder)


def test_a_symlink_source_resolves_inside_the_source_root(tmp_path: Path) -> None:
    root = tmp_path / "context"
    _write(root, "etc/hostname", b"inside\n")
    os.symlink("/etc/hostname", root / "abs")
    os.symlink("../../../../etc/hostname", root / "climb")
    rows, out = stage(CopyRequest(["abs", "climb"], "/r/"), root, tmp_path)
    assert (out / "r/abs").read_bytes() == b"inside\n" == (out / "r/climb").read_bytes()
    with pytest.raises(BuildError, match="forbidden path outside the build context"):
        stage(CopyRequest(["../x"], "/r/"), root, tmp_path)


def test_dest_symlinks_in_the_image_never_leave_the_staging_dir(context: Path, tmp_path: Path) -> None:
    decoy = tmp_path / "decoy"
    decoy.mkdir()
    image = tmp_path / "image"
    image.mkdir()
    os.symlink(str(decoy), image / "abs")
    os.symlink("../../../../../../" + str(decoy), image / "rel")
    rows, out = stage(CopyRequest(["a.txt", "tree"], "/abs/"), context, tmp_path, image_root=image)
    rows2, _ = stage(CopyRequest(["a.txt"], "/rel/"), context, tmp_path, image_root=image)
    assert list(decoy.iterdir()) == []
    inside = str(decoy).lstrip("/")
    assert f"{inside}/a.txt" in rows and f"{inside}/keep.txt" in rows and f"{inside}/a.txt" in rows2


def test_staging_dir_must_be_empty(context: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "junk").write_text("x")
    with pytest.raises(BuildError, match="must exist and be empty"):
        stage_copy(CopyRequest(["a.txt"], "/"), source_root=context, source_excluder=None, image=None,
                   out_dir=out)


def test_file_cannot_go_under_an_image_file(context: Path, tmp_path: Path) -> None:
    image = tmp_path / "image"
    _write(image, "plain")
    with pytest.raises(BuildError, match="not a directory"):
        stage(CopyRequest(["a.txt"], "/plain/sub/"), context, tmp_path, image_root=image)


# -- ADD of archives -------------------------------------------------------------


def _tar_bytes(members: list[tuple[str, str, bytes | str]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, kind, data in members:
            info = tarfile.TarInfo(name)
            info.mtime, info.mode = MTIME, 0o644
            if kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, data
                archive.addfile(info)
            else:
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_add_unpacks_a_zstd_tar_and_copies_an_empty_tar_as_a_file(tmp_path: Path) -> None:
    root = tmp_path / "context"
    _write(root, "pkg.tar.zst", zstandard.ZstdCompressor().compress(_tar_bytes([("a/b.txt", "file", b"zz\n")])))
    _write(root, "empty.tar", b"\0" * 1024)
    image = tmp_path / "image"
    (image / "opt/a").mkdir(parents=True)
    os.chmod(image / "opt/a", 0o700)
    rows, out = stage(CopyRequest(["pkg.tar.zst", "empty.tar"], "/opt/", is_add=True), root, tmp_path,
                      image_root=image)
    assert (out / "opt/a/b.txt").read_bytes() == b"zz\n"
    assert rows["opt/a"][1] == "0o700"  # implied by the tar, already in the image: staged as the image has it
    assert rows["opt/empty.tar"][0] == "file"


def test_add_tar_entries_cannot_escape_the_destination(tmp_path: Path) -> None:
    decoy = tmp_path / "decoy"
    decoy.mkdir()
    root = tmp_path / "context"
    _write(root, "evil.tar", _tar_bytes([("../../escape", "file", b"x")]))
    _write(root, "links.tar", _tar_bytes([("out", "symlink", str(decoy)), ("out/planted", "file", b"x")]))
    with pytest.raises(BuildError, match="escape"):
        stage(CopyRequest(["evil.tar"], "/d/", is_add=True), root, tmp_path)
    rows, out = stage(CopyRequest(["links.tar"], "/d/", is_add=True), root, tmp_path)
    assert list(decoy.iterdir()) == []
    assert (out / "d" / str(decoy).lstrip("/") / "planted").read_bytes() == b"x"


# -- ADD of URLs -----------------------------------------------------------------


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def web(tmp_path: Path):
    served = tmp_path / "served"
    served.mkdir()
    payload = _write(served, "file.tgz", _tar_bytes([("inner", "file", b"i")]))
    os.utime(payload, (MTIME + 5, MTIME + 5))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(served)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hashlib.sha256(payload.read_bytes()).hexdigest()
    server.shutdown()
    server.server_close()


def test_add_url_with_checksum_is_a_0600_file_never_unpacked(web, tmp_path: Path) -> None:
    url, digest = web
    (tmp_path / "ctx").mkdir()
    req = CopyRequest([f"{url}/file.tgz"], "/dl/", is_add=True, checksum=f"sha256:{digest}")
    rows, _ = stage(req, tmp_path / "ctx", tmp_path)
    kind, mode, uid, gid, *_rest, mtime = rows["dl/file.tgz"]
    assert (kind, mode, uid, gid, mtime) == ("file", "0o600", 0, 0, MTIME + 5)


def test_add_url_checksum_mismatch_stages_nothing(web, tmp_path: Path) -> None:
    url, _digest = web
    (tmp_path / "ctx").mkdir()
    out = tmp_path / "out"
    out.mkdir()
    req = CopyRequest([f"{url}/file.tgz"], "/dl/", is_add=True, checksum="sha256:" + "0" * 64)
    with pytest.raises(BuildError, match="checksum mismatch"):
        stage_copy(req, source_root=tmp_path / "ctx", source_excluder=None, image=None, out_dir=out)
    assert list(out.iterdir()) == []


def test_add_url_errors(web, tmp_path: Path) -> None:
    url, _digest = web
    (tmp_path / "ctx").mkdir()
    with pytest.raises(BuildError, match="status 404"):
        stage(CopyRequest([f"{url}/missing"], "/x", is_add=True), tmp_path / "ctx", tmp_path)
    with pytest.raises(BuildError, match="cannot determine filename"):
        stage(CopyRequest([f"{url}/"], "/x/", is_add=True), tmp_path / "ctx", tmp_path)
    with pytest.raises(BuildError, match="checksum can't be specified for non-HTTP"):
        stage(CopyRequest(["a"], "/x", is_add=True, checksum="sha256:" + "0" * 64), tmp_path / "ctx", tmp_path)
    with pytest.raises(BuildError, match="invalid checksum"):
        stage(CopyRequest([f"{url}/file.tgz"], "/x", is_add=True, checksum="md5:00"), tmp_path / "ctx", tmp_path)
