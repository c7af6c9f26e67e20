"""Files and directories written outside the store (``save -o``), never left half-written.

An output is written under a hidden temp name beside its target and renamed
into place only when complete. The temp name is also recorded under the
store's ``tmp/`` (``<pid>-<random>.partial-output``, holding the temp path),
so when the writer is killed, the next command that opens the store removes
what it left (``sweep_partial_outputs``).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from layerlab.engine.errors import NotFound, UsageError
from layerlab.engine.store.layout import Layout, temp_owner_alive

# typing costs milliseconds of every command's start-up; type checkers honour this form.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import BinaryIO

LEDGER_SUFFIX = ".partial-output"
_PARTIAL_MARK = ".layerlab-partial-"


def check_output_path(target: Path, *, directory: bool) -> None:
    """One clear error before any work: the parent must exist, and a file target must not be a directory."""
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise NotFound(f"{target}: no such directory {parent}")
    if not directory and target.is_dir():
        raise UsageError(f"{target}: is a directory (save writes an archive file; --format oci writes a directory)")
    if directory and target.exists() and not target.is_dir():
        raise UsageError(f"{target}: exists and is not a directory (--format oci writes a directory)")


def _partial_name(target: Path) -> Path:
    parent = target.parent if str(target.parent) else Path(".")
    return parent / f".{target.name}{_PARTIAL_MARK}{os.getpid()}-{os.urandom(4).hex()}"


@contextmanager
def _recorded(layout: Layout, partial: Path) -> Iterator[None]:
    ledger = layout.new_temp(LEDGER_SUFFIX)
    ledger.write_bytes(os.fsencode(partial.absolute()))  # a path's own bytes, UTF-8 or not
    try:
        yield
    finally:
        ledger.unlink(missing_ok=True)


@contextmanager
def partial_output_file(layout: Layout, target: Path, *, mode: int = 0o644) -> Iterator[BinaryIO]:
    """Write ``target`` through a recorded temp file beside it; renamed into place only on success."""
    check_output_path(target, directory=False)
    partial = _partial_name(target)
    with _recorded(layout, partial):
        try:
            with open(partial, "xb") as out:
                yield out
            os.chmod(partial, mode)
            os.replace(partial, target)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise


@contextmanager
def partial_output_dir(layout: Layout, target: Path) -> Iterator[Path]:
    """A directory to fill in place of ``target``.

    A new target is built under a recorded temp name and renamed into place
    on success, so a failure leaves nothing. An existing one is written in
    place (an OCI layout only gains blobs, and its index is replaced last).
    """
    import shutil

    check_output_path(target, directory=True)
    if target.exists():
        yield target
        return
    partial = _partial_name(target)
    with _recorded(layout, partial):
        try:
            partial.mkdir()
            yield partial
            os.rename(partial, target)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise


def sweep_partial_outputs(layout: Layout) -> list[Path]:
    """Remove the temp outputs of writers that died; returns what was removed."""
    removed = []
    try:
        ledgers = [p for p in layout.tmp.iterdir() if p.name.endswith(LEDGER_SUFFIX)]
    except FileNotFoundError:
        return removed
    for ledger in ledgers:
        if temp_owner_alive(ledger.name):
            continue
        try:
            partial = Path(os.fsdecode(ledger.read_bytes()))
        except OSError:
            partial = None
        # Only a name this module made is removed, whatever the ledger file says.
        if partial is not None and _PARTIAL_MARK in partial.name and partial.name.startswith("."):
            if partial.is_dir() and not partial.is_symlink():
                import shutil

                shutil.rmtree(partial, ignore_errors=True)
                removed.append(partial)
            elif os.path.lexists(partial):
                partial.unlink(missing_ok=True)
                removed.append(partial)
        ledger.unlink(missing_ok=True)
    return removed
