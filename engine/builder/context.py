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

import hashlib
import time
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from layerlab.engine.builder.context_walk import Excluder, walk_context
from layerlab.engine.builder.source_files import SourceFiles
from layerlab.engine.builder.source_patterns import go_match, has_wildcards, normalize_source
from layerlab.engine.builder.stat_cache import Entries, StatCache, keys_blob
from layerlab.engine.builder.tarsum import STAT_KEY, EntryStat, tarsum_header
from layerlab.engine import long_paths
from layerlab.engine.errors import BuildError, NotFound
from layerlab.engine.record_type import field, record

_CHUNK = 1 << 20
_HASH_THREADS = 4
# File timestamps tick coarsely; an entry written within this margin of the
# scan could change again without its stat changing, so it is not cached.
_RACY_MARGIN_NS = 2_000_000_000


@record(frozen=True, slots=True)
class FileEntry:
    """One context entry as the cache sees it.

    ``mtime_ns`` is kept only to explain a hit ("touched only"): it is neither compared (equal
    entries may differ in it) nor part of any checksum or key.
    """

    path: str       # context-relative posix path, no leading "./" or "/"
    kind: str       # file, dir, symlink, fifo, char, block
    mode: int       # permission bits with setuid/setgid/sticky (0o7777)
    uid: int
    gid: int
    size: int
    link: str       # symlink target, "" for other kinds
    checksum: str   # tarsum v1 hex of header + content
    mtime_ns: int = field(default=0, compare=False)

    def to_json(self) -> list:
        return [self.kind, self.mode, self.uid, self.gid, self.size, self.link, self.checksum, self.mtime_ns]

    @classmethod
    def from_json(cls, path: str, data: Sequence) -> "FileEntry":
        kind, mode, uid, gid, size, link, checksum, *rest = data  # records before mtime_ns have seven
        return cls(path, kind, int(mode), int(uid), int(gid), int(size), link, checksum, int(rest[0]) if rest else 0)

    @staticmethod
    def json_kind_and_mtime(data: Sequence) -> tuple[str, int]:
        """(kind, mtime_ns) of an entry's JSON form, without making the entry."""
        return data[0], int(data[7]) if len(data) > 7 else 0


@record(frozen=True, slots=True)
class SourceSet:
    """What a COPY/ADD source list resolves to: Docker's digest and every file behind it."""

    digest: str                       # file:<hex>, dir:<hex> or multi:<hex>
    files: Mapping[str, FileEntry]    # path -> entry in path order, every entry that fed the digest
    matches: tuple[str, ...]          # the top-level paths each source resolved to



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
        self._stat_cache = stat_cache
        self._cache_name = f"{self.root}\0{owner}"
        self._cache_before_ns = time.time_ns() - racy_margin_ns
        self._stats: dict[str, EntryStat]   # in walk order
        self._stats, self._symlinks, implied = walk_context(self.root, excluder, root_owned=owner == "root")
        self._checksums: dict[str, str] = {rel: rel for rel in implied}
        self._cached: Entries = {}
        self._cache_current = self._take_cached_checksums() if stat_cache else True
        self._entries: dict[str, FileEntry] = {}
        self._fresh: dict[str, tuple[int, int, int, int, str]] = {}
        self.files_read = 0
        self.paths: tuple[str, ...] = tuple(self._stats)

    def _take_cached_checksums(self) -> bool:
        """Every file's checksum from the stat cache at once when each has the stat stored with it
        (then True: the cache needs no rewrite); else its entries, each compared as it is needed."""
        stats = self._stats
        files = [rel for rel, st in stats.items() if st.size > 0 and st.kind == "file"]
        snapshot = self._stat_cache.snapshot(self._cache_name)
        checksums = snapshot.checksums_for(keys_blob(files, [stats[rel][STAT_KEY] for rel in files]))
        if checksums is not None:
            self._checksums.update(zip(files, checksums))
            return True
        self._cached = snapshot.entries()
        return False

    # -- per-file checksums ----------------------------------------------------

    def __contains__(self, rel: str) -> bool:
        return rel in self._stats

    def entry(self, rel: str) -> FileEntry:
        """The entry for one context path; ``NotFound`` if absent or excluded."""
        rel = normalize_source(rel)
        if rel not in self._stats:
            raise NotFound(f"{rel}: file not found in build context or excluded by .dockerignore")
        return self.entries([rel])[rel]

    def entries(self, rels: Iterable[str] | None = None) -> dict[str, FileEntry]:
        """Entries for many paths at once (all of them by default), hashing in parallel."""
        rels = list(self.paths if rels is None else rels)
        self._ensure_checksums(rels)
        made, make = self._entries, self._made_entry
        # a COPY of a whole context asks for every entry: the made ones without a call each
        return {rel: made.get(rel) or make(rel) for rel in rels}

    def _made_entry(self, rel: str) -> FileEntry:
        """The entry of a path whose checksum is known; kept, as several COPY steps may name the same files."""
        entry = self._entries.get(rel)
        if entry is None:
            st = self._stats[rel]
            entry = self._entries[rel] = FileEntry(rel, st.kind, st.mode, st.uid, st.gid, st.size,
                                                   self._link(rel, st), self._checksums[rel], st.mtime_ns)
        return entry

    def _link(self, rel: str, st: EntryStat) -> str:
        return long_paths.readlink(self.root / rel) if st.kind == "symlink" else ""

    def _ensure_checksums(self, rels: Sequence[str]) -> None:
        to_read = []
        checksums, stats, cached_by_path = self._checksums, self._stats, self._cached
        for rel in rels:
            if rel in checksums:
                continue
            st = stats[rel]
            if st.size > 0 and st.kind == "file":
                cached = cached_by_path.get(rel)
                # trusted only in its own shape: the stat cache is a file its user can damage
                if type(cached) is tuple and len(cached) == 5 and cached[:4] == st[STAT_KEY] \
                        and type(cached[4]) is str:
                    checksums[rel] = cached[4]
                else:
                    to_read.append(rel)
            else:
                checksums[rel] = self._tarsum_header(rel, st).hexdigest()
        if len(to_read) > 8:
            # loaded only when there is much to read (concurrent.futures brings logging along)
            from concurrent.futures import ThreadPoolExecutor

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

    def _tarsum_header(self, rel: str, st: EntryStat) -> "hashlib._Hash":
        return tarsum_header(self.root, rel, st, self._link(rel, st), image_headers=self.headers == "image")

    def _read_checksum(self, rel: str) -> str:
        st = self._stats[rel]
        hasher = self._tarsum_header(rel, st)
        try:
            with open(self.root / rel, "rb", buffering=0, opener=long_paths.opener) as stream:
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
        if rows or gone or not self._cache_current:
            # rewritten in this walk's order, so that the next walk of an unchanged context matches it at once
            self._stat_cache.update(self._cache_name, rows, gone, order=self.paths)
            self._cache_current = True
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
        files: dict[str, None] = {}
        matches: list[str] = []
        for pattern in patterns:
            rel = normalize_source(pattern)
            if has_wildcards(rel):
                targets = [p for p in self.paths if go_match(rel, p)]
            else:
                if rel != "." and rel not in self._stats:
                    # a path through a symlinked directory (``link/sub``) names what it reaches
                    reached = self._resolve_in_scope(rel)
                    if reached is None or (reached != "." and reached not in self._stats):
                        raise NotFound(f"{pattern}: file not found in build context or excluded by .dockerignore")
                    rel = reached
                targets = [rel]
            for target in targets:
                digest, tree = self._one_source(target)
                hashes.append(digest)
                files.update(dict.fromkeys(tree))
                matches.append(target)
        if not hashes:
            raise BuildError("no source files were specified")
        digest = hashes[0] if len(hashes) == 1 else _hash_strings("multi", hashes)
        # a hit reads none of the files' entries: each is made when a miss, a reason or the copy asks
        return SourceSet(digest, SourceFiles(tuple(sorted(files)), self._stats, self._made_entry), tuple(matches))

    def _one_source(self, rel: str) -> tuple[str, list[str]]:
        """(the digest of one source, the paths behind it; their checksums are known)."""
        if rel != "." and self._stats[rel].kind == "symlink":
            # The classic builder stats a source through its symlinks: one naming a directory is
            # named by that directory's tree (``dir:``), as if the directory itself were the source.
            target = self._resolve_in_scope(rel)
            if target == "." or (target in self._stats and self._stats[target].kind == "dir"):
                digest, tree = self._one_source(target)
                self._ensure_checksums([rel])
                return digest, [*tree, rel]
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
            checksums, symlinks = self._checksums, self._symlinks
            digest = _hash_strings("dir", sorted([self._followed_checksum(p) if p in symlinks else checksums[p]
                                                  for p in tree]))
        # a symlink's target feeds the digest, so it belongs with the files a miss is explained by
        targets = [self._resolve_in_scope(p) for p in tree if p in self._symlinks]
        targets = [t for t in targets if t in self._stats and t != "."]
        if targets:
            self._ensure_checksums(targets)
            tree += targets
        return digest, tree

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
            link = long_paths.readlink(self.root / candidate)
            if link.startswith("/"):
                resolved = []
            parts = link.split("/") + parts
        return "/".join(resolved) or "."


def _hash_strings(prefix: str, values: Sequence[str]) -> str:
    return prefix + ":" + hashlib.sha256(",".join(values).encode("utf-8", "surrogateescape")).hexdigest()


def hash_context(root: Path | str, *, excluder: Excluder | None = None,
                 stat_cache: StatCache | None = None, owner: str = "keep", **options) -> BuildContext:
    """Walk and fully hash a context, then save the stat cache (watch mode, benchmarks)."""
    context = BuildContext(root, excluder=excluder, stat_cache=stat_cache, owner=owner, **options)
    context.hash_all()
    context.save()
    return context


__all__ = ["BuildContext", "Excluder", "FileEntry", "SourceSet", "hash_context"]
