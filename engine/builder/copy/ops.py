"""COPY and ADD as in-process file operations: stage exactly the tree the layer adds.

``stage_copy`` builds, in an empty ``out_dir``, what one COPY/ADD adds to
the image, with Docker's classic-builder semantics (``DOCKER_BUILDKIT=0``;
the BuildKit-only flags ``--chmod``, ``--link``, ``--exclude``,
``--parents`` and ``--checksum`` follow BuildKit):

- a directory source copies its *contents*; a file goes to ``dest`` itself,
  or into it when ``dest`` ends in "/" or is a directory in the image
  (through the image's symlinks, resolved inside its rootfs); several
  sources need a destination that ends in "/";
- a relative ``dest`` is relative to the WORKDIR;
- copied entries keep their mode, mtime, symlink target and hard links, and
  belong to root (or to ``--chown``); with ``--from`` and no ``--chown`` they
  keep their owners. Directories created for a copied file get 0755 and the
  ``--chown`` owner; directories created for a copied directory get 0755
  root, and the destination directory itself the ``--chown`` owner;
- image directories the copy writes into are staged with their own mode and
  owner, as they appear in Docker's layer;
- ADD unpacks a local tar (any compression, detected by content) and
  downloads an http(s) URL (mode 0600, mtime from Last-Modified).

The executor turns ``out_dir`` into the layer with ``write_layer_from_dir``.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import stat
from pathlib import Path
from typing import Callable

from layerlab.engine.builder.copy.archive import extract_archive, is_archive
from layerlab.engine.builder.copy.outcome import CopyResult
from layerlab.engine.builder.copy.remote import UNNAMED, download, is_url
from layerlab.engine.builder.copy.reuse import PreviousLayer
from layerlab.engine.builder.copy.sources import ExclusionRules, Source, SourceFinder
from layerlab.engine.builder.copy.tree import Staging
from layerlab.engine.dockerfile.dockerignore import Matcher
from layerlab.engine.errors import BuildError
from layerlab.engine.layers.stack import LayerStack
from layerlab.engine import long_paths
from layerlab.engine.deep_trees import Nested, run_nested
from layerlab.engine.record_type import field, record

_NOFOLLOW_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_CHUNK = 1 << 20


def _copy_content(source, out) -> None:
    """Copy an open file's bytes into another inside the kernel (no trip through Python's buffers),
    as ``shutil.copyfile`` does; by hand where the kernel will not (a source that is not a plain file)."""
    copied = 0
    try:
        while sent := os.sendfile(out.fileno(), source.fileno(), None, _CHUNK * 64):
            copied += sent
    except OSError:
        if copied:
            raise  # part of it is copied already: a real read or write error, not a refusal
        shutil.copyfileobj(source, out, _CHUNK)


@record
class CopyRequest:
    sources: list[str]          # expanded source words (may hold wildcards); for ADD also URLs and local tars
    dest: str                   # expanded destination: absolute, or relative to ``workdir``
    workdir: str = "/"          # the image's WorkingDir at this step
    chown: tuple[int, int] | None = None   # numeric uid:gid, names already resolved
    chmod: int | None = None
    excludes: list[str] = field(default_factory=list)
    parents: bool = False
    link: bool = False
    is_add: bool = False
    checksum: str | None = None
    keep_git_dir: bool = False
    from_source: str | None = None  # the --from value: owners are then kept unless --chown is given
    # BuildKit makes every missing directory on the way to the destination with the --chown owner; the
    # classic builder does so only for a copied file's parents.
    owned_dest_path: bool = False
    # the layer this COPY step made last time: a file that would come out the same is linked from it
    previous_layer: Path | None = None

    @property
    def command(self) -> str:
        return "ADD" if self.is_add else "COPY"


def normalize_dest(workdir: str, dest: str) -> str:
    """moby's normalizeDest: a relative destination joins the WORKDIR; a trailing "/" survives."""
    if dest.startswith("/"):
        return dest
    joined = posixpath.normpath(posixpath.join("/", workdir or "/", dest))
    joined = "/" + joined.lstrip("/")
    return joined + "/" if dest.endswith("/") and not joined.endswith("/") else joined


def _daemon_made_dir(st: os.stat_result) -> os.stat_result:
    """The stat of a directory the daemon's untar created for a file below it: 0755, root, mtime kept."""
    fields = list(st)
    fields[stat.ST_MODE] = stat.S_IFDIR | 0o755
    fields[stat.ST_UID] = fields[stat.ST_GID] = 0
    return os.stat_result(fields)


def stage_copy(req: CopyRequest, *, source_root: Path, source_excluder: Matcher | Callable[[str], bool] | None,
               image: LayerStack | None, out_dir: Path) -> CopyResult:
    """Stage in ``out_dir`` (empty) the files this COPY/ADD adds; ``BuildError`` says why it cannot."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir() or any(out_dir.iterdir()):
        raise BuildError(f"{out_dir}: the staging directory must exist and be empty")
    if req.checksum and not all(is_url(source) for source in req.sources):
        raise BuildError(f"{req.command} failed: checksum can't be specified for non-HTTP(S) sources")
    copier = _Copier(req, Path(source_root), source_excluder, None if req.link else image, out_dir)
    try:
        copier.run()
    finally:
        copier.remove_scratch()
    return copier.result()


@record
class _Downloaded:
    path: Path
    name: str


class _Copier:
    def __init__(self, req: CopyRequest, source_root: Path, excluder, image: LayerStack | None, out_dir: Path):
        self.req = req
        self.command = req.command
        self.source_root = source_root
        self.rules = ExclusionRules(excluder)
        self.staging = Staging(out_dir, image, self.command)
        self._scratch: str | None = None   # for ADD's downloads, made by the first one
        self.dest = normalize_dest(req.workdir, req.dest)
        self.into_dir = req.dest.endswith("/")
        self.preserve_owner = req.from_source is not None and req.chown is None
        self.owner = req.chown or (0, 0)
        self.dest_path_owner = self.owner if req.owned_dest_path else (0, 0)
        self.excluded_by_flag = _flag_excludes(req.excludes)
        self.finder = SourceFinder(source_root, excluder, self.command, from_image=req.from_source is not None,
                                   extra_excludes=self.excluded_by_flag)
        # not for ADD: an archive unpacked over a staged path could write into a shared file
        self.previous = PreviousLayer(req.previous_layer) if req.previous_layer and not req.is_add else None

    # -- the sources -------------------------------------------------------------

    def run(self) -> None:
        items: list[Source | _Downloaded] = []
        for word in self.req.sources:
            if is_url(word):
                items.append(self._download(word, len(items)))
            else:
                items.extend(self.finder.find(word, parents=self.req.parents))
        if not items:
            raise BuildError(f"{self.command} failed: no source files were specified")
        if len(items) > 1 and not self.into_dir:
            raise BuildError(f"When using {self.command} with more than one source file, "
                             "the destination must be a directory and end with a /")
        for item in items:
            if isinstance(item, _Downloaded):
                self._copy_file(item.path, os.stat(item.path), self._file_target(item.name))
            else:
                self._copy_source(item)

    def _download(self, url: str, number: int) -> _Downloaded:
        if not self.req.is_add:
            raise BuildError(f"{self.command} failed: source can't be a URL for COPY")
        if self._scratch is None:
            import tempfile  # ADD of a URL only

            self._scratch = tempfile.mkdtemp(prefix="layerlab-copy-")
        into = Path(self._scratch) / f"url-{number}"
        into.mkdir()
        fetched = download(url, into, checksum=self.req.checksum, command=self.command)
        name = fetched.filename
        if not name:
            if self.into_dir:
                raise BuildError(f"{self.command} failed: cannot determine filename for source {url}")
            name = UNNAMED
        return _Downloaded(fetched.path, name)

    def _copy_source(self, source: Source) -> None:
        host = os.path.join(self.source_root, source.rel) if source.rel else os.fspath(self.source_root)
        if self.req.parents and source.kept:
            target = posixpath.join(self.staging.resolve(self.dest), source.kept)
            if stat.S_ISDIR(source.st.st_mode):
                self._copy_directory(host, source.rel, target)
            else:
                self._copy_file(Path(host), source.st, target)
            return
        if stat.S_ISDIR(source.st.st_mode):
            self._copy_directory(host, source.rel, self.staging.resolve(self.dest))
        elif self.req.is_add and is_archive(Path(host)):
            if self.req.owned_dest_path:
                self.staging.ensure_dirs(self.staging.resolve(self.dest), mode=0o755, owner=self.owner)
            extract_archive(Path(host), self.staging, self.staging.resolve(self.dest), command=self.command)
        else:
            self._copy_file(Path(host), source.st, self._file_target(posixpath.basename(source.name)))

    def _file_target(self, name: str) -> str:
        dest_rel = self.staging.resolve(self.dest)
        if self.into_dir or self.staging.is_dir(dest_rel):
            return posixpath.join(dest_rel, name) if dest_rel else name
        return dest_rel

    # -- one file ----------------------------------------------------------------

    def _copy_file(self, host: Path, st: os.stat_result, target: str) -> None:
        if not target:
            raise BuildError(f"{self.command} failed: cannot copy a file onto /")
        self.staging.ensure_dirs(posixpath.dirname(target), mode=0o755, owner=self.owner)
        self.staging.clear(target, keep_dir=False)
        self._write_file(host, st, target)

    def _write_file(self, host: Path | str, st: os.stat_result, target: str) -> None:
        try:
            source_fd = long_paths.open_fd(host, _NOFOLLOW_READ)
        except OSError as error:
            raise BuildError(f"{self.command} failed: cannot read {host}: {error.strerror}") from None
        if self.previous is not None:
            owner, mode, mtime_ns = self._wanted(st)
            if mode is not None and self.previous.link_if_same(
                    source_fd, target, self.staging.host(target), owner=owner, mode=mode, mtime_ns=mtime_ns,
                    size=st.st_size):
                os.close(source_fd)
                return  # already as _finish would leave it; touching it would touch the previous layer's file
        with os.fdopen(source_fd, "rb") as source, \
                os.fdopen(long_paths.open_fd(self.staging.host(target), _CREATE, 0o600), "wb") as out:
            _copy_content(source, out)
        self._finish(target, st, is_link=False)

    def _wanted(self, st: os.stat_result, *, is_link: bool = False) -> tuple[tuple[int, int], int | None, int]:
        """(owner, permission bits, mtime in ns) of a staged entry as Docker leaves them (bits None: a symlink)."""
        owner = (st.st_uid, st.st_gid) if self.preserve_owner else self.owner
        mode = None
        if not is_link:
            if self.req.chmod is not None:
                mode = self.req.chmod
            else:
                mode = stat.S_IMODE(st.st_mode)
                if not self.preserve_owner and stat.S_ISREG(st.st_mode):
                    mode = _as_after_chown(mode)
        return owner, mode, int(st.st_mtime) * 1_000_000_000  # Docker's tar keeps whole seconds

    def _finish(self, target: str, st: os.stat_result, *, is_link: bool) -> None:
        """Owner, mode and mtime of a staged entry, as Docker leaves them."""
        owner, mode, mtime_ns = self._wanted(st, is_link=is_link)
        self.staging.set_owner(target, owner)
        path = self.staging.host(target)
        if mode is not None:
            long_paths.chmod(path, mode)
        long_paths.utime(path, ns=(mtime_ns, mtime_ns), follow_symlinks=not is_link)

    # -- one directory -----------------------------------------------------------

    def _copy_directory(self, host: str, source_rel: str, target: str) -> None:
        existed = self.staging.is_dir(target)
        self.staging.ensure_dirs(target, mode=0o755, owner=self.dest_path_owner)
        if not existed and target:
            if not self.preserve_owner:
                self.staging.set_owner(target, self.owner)
            if self.req.chmod is not None:
                long_paths.chmod(self.staging.host(target), self.req.chmod)
        with long_paths.scandir(self.staging.host(target)) as listing:
            fresh = next(listing, None) is None
        run_nested(self._copy_children(host, source_rel, "", target, {}, fresh=fresh))

    def _copy_children(self, host_dir: str, source_rel: str, inner: str, target_dir: str,
                       inodes: dict[tuple[int, int], str], *, fresh: bool) -> Nested[int]:
        """Copy a directory's entries; ``fresh`` says the staged ``target_dir`` started empty.

        Returns how many entries were copied. A walk for ``run_nested``: trees of any depth."""
        try:
            names = sorted(long_paths.listdir(host_dir), key=os.fsencode)
        except OSError as error:
            raise BuildError(f"{self.command} failed: cannot read {source_rel or '.'}: {error.strerror}") from None
        copied = 0
        for name in names:
            child_rel = f"{source_rel}/{name}" if source_rel else name
            child_inner = f"{inner}/{name}" if inner else name
            child_host = os.path.join(host_dir, name)
            target = f"{target_dir}/{name}" if target_dir else name
            st = long_paths.lstat(child_host)
            is_dir = stat.S_ISDIR(st.st_mode)
            if self.excluded_by_flag(child_inner) or self.excluded_by_flag(child_rel):
                continue
            if is_dir and self.rules.prune(child_rel):
                continue
            if not is_dir and self.rules.excluded(child_rel):
                continue
            if is_dir:
                copied += yield self._copy_subdir(child_host, st, child_rel, child_inner, target, inodes, fresh=fresh)
            else:
                if not fresh:
                    self.staging.clear(target, keep_dir=False)
                self._copy_entry(child_host, st, target, inodes)
                copied += 1
        return copied

    def _copy_subdir(self, host: str, st: os.stat_result, source_rel: str, inner: str, target: str,
                     inodes: dict[tuple[int, int], str], *, fresh: bool) -> Nested[int]:
        # An excluded directory is entered only for the ``!`` exceptions below it. Docker's context tar
        # then holds those files without their directory, and the daemon's untar makes the directory
        # (0755, root) to hold them; with no exception matching, the directory is not there at all.
        implied = self.rules.excluded(source_rel)
        staged = None if fresh else self.staging.staged(target)
        if staged is not None and not stat.S_ISDIR(staged.st_mode):
            if implied and not self.rules.includes_below(self.finder.root, source_rel):
                return 0
            self.staging.clear(target, keep_dir=False)
            staged = None
        if staged is None:
            long_paths.mkdir(self.staging.host(target), 0o700)
        copied = yield self._copy_children(host, source_rel, inner, target, inodes, fresh=staged is None)
        if implied:
            if not copied:
                if staged is None:
                    long_paths.rmdir(self.staging.host(target))
                return 0
            st = _daemon_made_dir(st)
        self._finish(target, st, is_link=False)
        return copied + 1

    def _copy_entry(self, host: str, st: os.stat_result, target: str, inodes: dict[tuple[int, int], str]) -> None:
        path = self.staging.host(target)
        mode = st.st_mode
        if stat.S_ISREG(mode):
            key = (st.st_dev, st.st_ino)
            first = inodes.get(key) if st.st_nlink > 1 else None
            if first is not None and self.staging.staged(first) is not None:
                long_paths.link(self.staging.host(first), path)  # one inode, as the tar's hard link entry makes it
                return
            inodes[key] = target
            self._write_file(host, st, target)
        elif stat.S_ISLNK(mode):
            long_paths.symlink(long_paths.readlink(host), path)
            self._finish(target, st, is_link=True)
        elif stat.S_ISFIFO(mode):
            long_paths.mkfifo(path, 0o600)
            self._finish(target, st, is_link=False)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            if os.geteuid() != 0:
                return  # device nodes need root; rootless engines skip them too
            long_paths.mknod(path, 0o600 | stat.S_IFMT(mode), st.st_rdev)
            self._finish(target, st, is_link=False)
        # sockets cannot travel in a layer tar: skipped, as Docker's tar does

    # -- the outcome -------------------------------------------------------------

    def result(self) -> CopyResult:
        return CopyResult(self.staging.out, dict(self.staging.owners),
                          self.previous.linked if self.previous is not None else 0)

    def remove_scratch(self) -> None:
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None


def _as_after_chown(mode: int) -> int:
    """The classic builder chowns each copied file after writing it, and Linux then drops
    set-user-ID, and set-group-ID on a group-executable file; the layer shows that."""
    mode &= ~stat.S_ISUID
    if mode & stat.S_IXGRP:
        mode &= ~stat.S_ISGID
    return mode


def _flag_excludes(patterns: list[str]) -> Callable[[str], bool]:
    """``--exclude`` patterns (.dockerignore syntax) over source-relative and root-relative paths."""
    if not patterns:
        return lambda rel: False
    matcher = Matcher(list(patterns), source="--exclude")
    return matcher.matches
