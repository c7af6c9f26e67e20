"""Build context hashing: per-file checksums the way Docker's classic builder keys COPY/ADD.

A file's checksum is tarsum v1 over its tar header fields (name, mode, uid,
gid, size, type, link target, device numbers, security.capability) followed by
its content -- exactly what moby's ``remotecontext.NewFileHash`` computes -- so
a change of content, mode, owner or link target changes it and a change of
mtime alone does not. A COPY source set is named as the classic builder names
it in the image history: ``file:<hex>`` for one file, ``dir:<hex>`` (sorted
checksums of the tree) for a directory, ``multi:<hex>`` for several sources.

Walking stats every entry but reads a file only when its checksum is asked
for and the ``StatCache`` has no entry with the same size, mtime, inode and
ctime. Paths the excluder rejects (``.dockerignore``) are never seen.
"""

from __future__ import annotations

import functools
import grp
import hashlib
import os
import pwd
import posixpath
import re
import sqlite3
import stat
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from layerlab.engine.dbfile import open_shared_db, write_transaction
from layerlab.engine.errors import BuildError, NotFound, StoreError

Excluder = Callable[[str], bool]
"""Takes a context-relative posix path; True means excluded (.dockerignore).

A ``.dockerignore`` ``Matcher`` (with ``matches`` and
``excludes_dir_entirely``) is accepted as is. A plain callable with a true
``has_exceptions`` attribute (``!pattern`` lines) has its excluded
directories walked anyway, so that re-included files are found, as the
docker client does when it tars a context.
"""

_CHUNK = 1 << 20
_HASH_THREADS = 4
# File timestamps tick coarsely; an entry written within this margin of the
# scan could change again without its stat changing, so it is not cached.
_RACY_MARGIN_NS = 2_000_000_000

_KINDS = {
    stat.S_IFREG: ("file", "0"),
    stat.S_IFLNK: ("symlink", "2"),
    stat.S_IFCHR: ("char", "3"),
    stat.S_IFBLK: ("block", "4"),
    stat.S_IFDIR: ("dir", "5"),
    stat.S_IFIFO: ("fifo", "6"),
}


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One context entry as the cache sees it (mtime deliberately absent)."""

    path: str       # context-relative posix path, no leading "./" or "/"
    kind: str       # file, dir, symlink, fifo, char, block
    mode: int       # permission bits with setuid/setgid/sticky (0o7777)
    uid: int
    gid: int
    size: int
    link: str       # symlink target, "" for other kinds
    checksum: str   # tarsum v1 hex of header + content

    def to_json(self) -> list:
        return [self.kind, self.mode, self.uid, self.gid, self.size, self.link, self.checksum]

    @classmethod
    def from_json(cls, path: str, data: Sequence) -> "FileEntry":
        kind, mode, uid, gid, size, link, checksum = data
        return cls(path, kind, int(mode), int(uid), int(gid), int(size), link, checksum)


@dataclass(frozen=True, slots=True)
class SourceSet:
    """What a COPY/ADD source list resolves to: Docker's digest and every file behind it."""

    digest: str                       # file:<hex>, dir:<hex> or multi:<hex>
    files: Mapping[str, FileEntry]    # path -> entry, every entry that fed the digest
    matches: tuple[str, ...]          # the top-level paths each source resolved to


@dataclass(slots=True)
class _Stat:
    kind: str
    typeflag: str
    mode: int
    uid: int
    gid: int
    size: int
    mtime_ns: int
    ctime_ns: int
    ino: int
    rdev: int


class StatCache:
    """A persistent map (context, path, size, mtime_ns, ino, ctime_ns) -> checksum.

    SQLite (WAL, busy timeout) so two processes may share it; ``path=None``
    keeps it in memory for one process only.
    """

    def __init__(self, path: Path | str | None = None):
        target = ":memory:" if path is None else str(path)
        try:
            self._db = open_shared_db(target)
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS stat_cache (context TEXT NOT NULL, path TEXT NOT NULL,"
                " size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, ino INTEGER NOT NULL,"
                " ctime_ns INTEGER NOT NULL, checksum TEXT NOT NULL, PRIMARY KEY (context, path))"
            )
        except sqlite3.Error as error:
            raise StoreError(f"{target}: cannot open the context stat cache: {error}") from error

    def load(self, context: str) -> dict[str, tuple[int, int, int, int, str]]:
        rows = self._db.execute(
            "SELECT path, size, mtime_ns, ino, ctime_ns, checksum FROM stat_cache WHERE context = ?", (context,)
        )
        return {path: (size, mtime, ino, ctime, checksum) for path, size, mtime, ino, ctime, checksum in rows}

    def update(self, context: str, rows: Iterable[tuple[str, int, int, int, int, str]],
               removed: Iterable[str] = ()) -> None:
        rows, removed = list(rows), list(removed)
        if not rows and not removed:
            return
        with write_transaction(self._db):
            self._db.executemany(
                "INSERT OR REPLACE INTO stat_cache VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(context, *row) for row in rows],
            )
            self._db.executemany("DELETE FROM stat_cache WHERE context = ? AND path = ?",
                                 [(context, path) for path in removed])

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "StatCache":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class BuildContext:
    """A walked build context: every entry stat'ed, checksums computed on demand.

    ``owner="root"`` records every entry as 0:0, as the docker client does when
    it sends a context (the classic builder then never sees an owner change);
    the default ``"keep"`` keys on the real owner.

    ``headers="image"`` hashes an image's rootfs (``COPY --from``) the way the
    classic builder does there: its headers come from the files on disk, so
    the mode carries Go's file-type bits and uname/gname are the names the
    host gives the owner; a context's headers (the default) have neither.
    """

    def __init__(self, root: Path | str, *, excluder: Excluder | None = None,
                 stat_cache: StatCache | None = None, owner: str = "keep",
                 racy_margin_ns: int = _RACY_MARGIN_NS, headers: str = "context"):
        if owner not in ("keep", "root"):
            raise ValueError(f"owner must be 'keep' or 'root', not {owner!r}")
        if headers not in ("context", "image"):
            raise ValueError(f"headers must be 'context' or 'image', not {headers!r}")
        self.headers = headers
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise NotFound(f"{root}: build context is not a directory")
        self.owner = owner
        self._excluder = excluder
        self._stat_cache = stat_cache
        self._cache_name = f"{self.root}\0{owner}"
        self._cached = stat_cache.load(self._cache_name) if stat_cache else {}
        self._cache_before_ns = time.time_ns() - racy_margin_ns
        self._stats: dict[str, _Stat] = {}
        self._checksums: dict[str, str] = {}
        self._fresh: dict[str, tuple[int, int, int, int, str]] = {}
        self.files_read = 0
        self._walk()
        self.paths: tuple[str, ...] = tuple(sorted(self._stats, key=_walk_order))

    # -- walking ---------------------------------------------------------------

    def _walk(self) -> None:
        excluded, prune = _exclusion_rules(self._excluder)
        pending = [("", str(self.root))]
        while pending:
            prefix, directory = pending.pop()
            try:
                entries = list(os.scandir(directory))
            except OSError as error:
                raise BuildError(f"{directory}: cannot read build context: {error.strerror}") from error
            for entry in entries:
                rel = prefix + entry.name
                if entry.is_dir(follow_symlinks=False):
                    if prune(rel):
                        continue
                    pending.append((rel + "/", entry.path))
                if excluded(rel):
                    continue
                st = entry.stat(follow_symlinks=False)
                kind = _KINDS.get(stat.S_IFMT(st.st_mode))
                if kind is None:  # sockets cannot travel in a tar; docker skips them too
                    continue
                uid, gid = (0, 0) if self.owner == "root" else (st.st_uid, st.st_gid)
                self._stats[rel] = _Stat(kind[0], kind[1], stat.S_IMODE(st.st_mode), uid, gid,
                                         st.st_size if kind[0] == "file" else 0,
                                         st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_rdev)

    # -- per-file checksums ----------------------------------------------------

    def __contains__(self, rel: str) -> bool:
        return rel in self._stats

    def entry(self, rel: str) -> FileEntry:
        """The entry for one context path; ``NotFound`` if absent or excluded."""
        rel = normalize_source(rel)
        if rel not in self._stats:
            raise NotFound(f"{rel}: file not found in build context or excluded by .dockerignore")
        self._ensure_checksums([rel])
        return self._entry(rel)

    def entries(self, rels: Iterable[str] | None = None) -> dict[str, FileEntry]:
        """Entries for many paths at once (all of them by default), hashing in parallel."""
        rels = list(self.paths if rels is None else rels)
        self._ensure_checksums(rels)
        return {rel: self._entry(rel) for rel in rels}

    def _entry(self, rel: str) -> FileEntry:
        st = self._stats[rel]
        return FileEntry(rel, st.kind, st.mode, st.uid, st.gid, st.size, self._link(rel, st),
                         self._checksums[rel])

    def _link(self, rel: str, st: _Stat) -> str:
        return os.readlink(self.root / rel) if st.kind == "symlink" else ""

    def _ensure_checksums(self, rels: Sequence[str]) -> None:
        to_read = []
        for rel in rels:
            if rel in self._checksums:
                continue
            st = self._stats[rel]
            if st.kind == "file" and st.size > 0:
                cached = self._cached.get(rel)
                if cached and cached[:4] == (st.size, st.mtime_ns, st.ino, st.ctime_ns):
                    self._checksums[rel] = cached[4]
                else:
                    to_read.append(rel)
            else:
                self._checksums[rel] = self._header_hash(rel, st).hexdigest()
        if len(to_read) > 8:
            with ThreadPoolExecutor(_HASH_THREADS) as pool:
                results = list(pool.map(self._read_checksum, to_read))
        else:
            results = [self._read_checksum(rel) for rel in to_read]
        for rel, checksum in zip(to_read, results):
            self._checksums[rel] = checksum
            st = self._stats[rel]
            if max(st.mtime_ns, st.ctime_ns) < self._cache_before_ns:
                self._fresh[rel] = (st.size, st.mtime_ns, st.ino, st.ctime_ns, checksum)
        self.files_read += len(to_read)

    def _header_hash(self, rel: str, st: _Stat):
        # The tarsum v1 header: the tar header fields except mtime, uname and
        # gname (which moby leaves empty), concatenated as name+value.
        name = rel + "/" if st.kind == "dir" else rel
        major, minor = (os.major(st.rdev), os.minor(st.rdev)) if st.kind in ("char", "block") else (0, 0)
        mode, uname, gname = st.mode, "", ""
        if self.headers == "image":
            mode |= _GO_TYPE_BITS[st.kind]
            uname, gname = _host_user_name(st.uid), _host_group_name(st.gid)
        hasher = hashlib.sha256()
        hasher.update(
            f"name{name}mode{mode}uid{st.uid}gid{st.gid}size{st.size}typeflag{st.typeflag}"
            f"linkname{self._link(rel, st)}uname{uname}gname{gname}devmajor{major}devminor{minor}"
            .encode("utf-8", "surrogateescape")
        )
        capability = _capability(self.root / rel) if st.kind == "file" else None
        if capability is not None:
            hasher.update(b"security.capability" + capability)
        return hasher

    def _read_checksum(self, rel: str) -> str:
        st = self._stats[rel]
        hasher = self._header_hash(rel, st)
        try:
            with open(self.root / rel, "rb", buffering=0) as stream:
                while chunk := stream.read(_CHUNK):
                    hasher.update(chunk)
        except OSError as error:
            raise BuildError(f"{rel}: cannot read build context file: {error.strerror}") from error
        return hasher.hexdigest()

    def hash_all(self) -> dict[str, FileEntry]:
        """Checksum every entry (a cold build, watch mode, the benchmark)."""
        return self.entries()

    def save(self) -> None:
        """Write what was learned to the stat cache; forget paths that are gone."""
        if self._stat_cache is None:
            return
        gone = [rel for rel in self._cached if rel not in self._stats]
        rows = [(rel, *values) for rel, values in self._fresh.items() if self._cached.get(rel) != values]
        self._stat_cache.update(self._cache_name, rows, gone)
        self._cached.update(self._fresh)
        self._fresh = {}

    # -- COPY/ADD sources ------------------------------------------------------

    def sources(self, patterns: Sequence[str]) -> SourceSet:
        """Resolve COPY/ADD sources as the classic builder does and name them.

        A wildcard source matches context paths with Go's ``filepath.Match``
        rules (``*`` stops at ``/``); a directory stands for its whole tree.
        ``NotFound`` names a missing non-wildcard source; ``BuildError`` says
        when nothing matched at all.
        """
        hashes: list[str] = []
        files: dict[str, FileEntry] = {}
        matches: list[str] = []
        for pattern in patterns:
            rel = normalize_source(pattern)
            if has_wildcards(rel):
                targets = [p for p in self.paths if go_match(rel, p)]
            else:
                if rel != "." and rel not in self._stats:
                    raise NotFound(f"{pattern}: file not found in build context or excluded by .dockerignore")
                targets = [rel]
            for target in targets:
                digest, tree = self._one_source(target)
                hashes.append(digest)
                files.update(tree)
                matches.append(target)
        if not hashes:
            raise BuildError("no source files were specified")
        digest = hashes[0] if len(hashes) == 1 else _hash_strings("multi", hashes)
        return SourceSet(digest, dict(sorted(files.items())), tuple(matches))

    def _one_source(self, rel: str) -> tuple[str, dict[str, FileEntry]]:
        if rel != "." and self._stats[rel].kind != "dir":
            tree = [rel]
            self._ensure_checksums(tree)
            digest = "file:" + self._followed_checksum(rel)
        else:
            if rel == ".":
                tree = list(self.paths)
            else:
                prefix = rel + "/"
                tree = [rel] + [p for p in self.paths if p.startswith(prefix)]
            self._ensure_checksums(tree)
            digest = _hash_strings("dir", sorted(self._followed_checksum(p) for p in tree))
        # a symlink's target feeds the digest, so it belongs with the files a miss is explained by
        targets = [self._resolve_in_scope(p) for p in tree if self._stats[p].kind == "symlink"]
        return digest, self.entries(dict.fromkeys(tree + [t for t in targets if t in self._stats and t != "."]))

    def _followed_checksum(self, rel: str) -> str:
        # The classic builder names a symlink in a COPY digest by the file it
        # points to inside the context (or by its own path when that is absent).
        if self._stats[rel].kind != "symlink":
            return self._checksums[rel]
        target = self._resolve_in_scope(rel)
        if target is None or target not in self._stats:
            return rel
        self._ensure_checksums([target])
        return self._checksums[target]

    def _resolve_in_scope(self, rel: str) -> str | None:
        """Follow symlinks with the context as root: ``..`` and absolute targets stay inside."""
        parts = rel.split("/")
        resolved: list[str] = []
        hops = 0
        while parts:
            part = parts.pop(0)
            if part in ("", "."):
                continue
            if part == "..":
                if resolved:
                    resolved.pop()
                continue
            candidate = "/".join([*resolved, part])
            st = self._stats.get(candidate)
            if st is None or st.kind != "symlink":
                resolved.append(part)
                continue
            hops += 1
            if hops > 255:
                return None
            link = os.readlink(self.root / candidate)
            if link.startswith("/"):
                resolved = []
            parts = link.split("/") + parts
        return "/".join(resolved) or "."


def _exclusion_rules(excluder) -> tuple[Callable[[str], bool], Callable[[str], bool]]:
    """(is this path excluded?, may the walk skip this whole directory?)

    Takes a plain callable or a .dockerignore matcher with ``matches`` and
    ``excludes_dir_entirely``. Without the latter, an excluded directory is
    skipped unless the excluder has exception (``!``) patterns.
    """
    if excluder is None:
        return (lambda rel: False), (lambda rel: False)
    excluded = getattr(excluder, "matches", None) or excluder
    prune = getattr(excluder, "excludes_dir_entirely", None)
    if prune is None:
        prune = (lambda rel: False) if getattr(excluder, "has_exceptions", False) else excluded
    return excluded, prune


# archive/tar's c_IS* bits, which moby's FileInfoHeader puts back into a header's mode.
_GO_TYPE_BITS = {"file": 0o100000, "dir": 0o40000, "symlink": 0o120000, "fifo": 0o10000, "char": 0o20000,
                 "block": 0o60000}


@functools.lru_cache(maxsize=256)
def _host_user_name(uid: int) -> str:
    # Go's tar.FileInfoHeader looks the owner up on the host (the daemon's), not in the image.
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return ""


@functools.lru_cache(maxsize=256)
def _host_group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return ""


def _capability(path: Path) -> bytes | None:
    try:
        return os.getxattr(path, "security.capability", follow_symlinks=False)
    except OSError:
        return None


def _hash_strings(prefix: str, values: Sequence[str]) -> str:
    return prefix + ":" + hashlib.sha256(",".join(values).encode()).hexdigest()


def _walk_order(rel: str) -> tuple[str, ...]:
    # Go's filepath.Walk visits names in lexical order, depth first.
    return tuple(rel.split("/"))


def normalize_source(source: str) -> str:
    """A COPY source as the classic builder reads it: no leading "/" or "./", cleaned."""
    cleaned = posixpath.normpath("/" + source.lstrip("/")).lstrip("/")
    return cleaned or "."


def has_wildcards(path: str) -> bool:
    escaped = False
    for char in path:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in "*?[":
            return True
    return False


def go_match(pattern: str, name: str) -> bool:
    """Go's ``path.Match``: ``*`` and ``?`` never match ``/``; ``\\`` escapes."""
    return _compile_go_pattern(pattern).fullmatch(name) is not None


_PATTERNS: dict[str, re.Pattern] = {}


def _compile_go_pattern(pattern: str) -> re.Pattern:
    compiled = _PATTERNS.get(pattern)
    if compiled is None:
        out, i = [], 0
        while i < len(pattern):
            char = pattern[i]
            if char == "\\" and i + 1 < len(pattern):
                out.append(re.escape(pattern[i + 1]))
                i += 2
                continue
            if char == "*":
                out.append("[^/]*")
            elif char == "?":
                out.append("[^/]")
            elif char == "[":
                end = pattern.find("]", i + 1)
                if end == -1:
                    raise BuildError(f"{pattern}: syntax error in pattern")
                out.append(_go_class(pattern[i + 1:end]))
                i = end + 1
                continue
            else:
                out.append(re.escape(char))
            i += 1
        compiled = _PATTERNS[pattern] = re.compile("".join(out), re.DOTALL)
    return compiled


def _go_class(body: str) -> str:
    negated = body.startswith("^")
    if negated:
        body = body[1:]
    parts, i = [], 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            i += 1
            char = body[i]
        if i + 2 < len(body) and body[i + 1] == "-":
            high = body[i + 2]
            parts.append(re.escape(char) + "-" + re.escape(high))
            i += 3
            continue
        parts.append(re.escape(char))
        i += 1
    # A negated class never matches the separator, as in Go.
    return "[" + ("^/" if negated else "") + "".join(parts) + "]"


def hash_context(root: Path | str, *, excluder: Excluder | None = None,
                 stat_cache: StatCache | None = None, owner: str = "keep", **options) -> BuildContext:
    """Walk and fully hash a context, then save the stat cache (watch mode, benchmarks)."""
    context = BuildContext(root, excluder=excluder, stat_cache=stat_cache, owner=owner, **options)
    context.hash_all()
    context.save()
    return context


__all__ = [
    "BuildContext", "Excluder", "FileEntry", "SourceSet", "StatCache",
    "go_match", "has_wildcards", "hash_context", "normalize_source",
]
