"""``save``: store images -> a docker-archive tar or an OCI layout, with the one rule for which tags go along."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Sequence

from layerlab.engine.errors import UsageError
from layerlab.engine.reference import Reference
from layerlab.engine.store.outputs import partial_output_dir, partial_output_file
from layerlab.engine.transports.docker_archive import write_docker_archive
from layerlab.engine.transports.oci_layout import write_oci_layout

if TYPE_CHECKING:
    from layerlab.engine.store.facade import Store
    from layerlab.engine.store.records import StoredImage

SAVE_FORMATS = {
    "docker": "a docker save tar (pre-25 layout)",
    "docker-oci": "a docker save tar (25+ layout, an OCI layout inside)",
    "oci": "an OCI image layout directory",
}
_ARCHIVE_LAYOUTS = {"docker": "legacy", "docker-oci": "oci"}


def saves_directory(format: str) -> bool:
    """True when ``format`` writes a directory rather than one tar file."""
    return format == "oci"


def images_to_save(store: "Store", names: Sequence[str]) -> list[tuple["StoredImage", list[str]]]:
    """Each named image once, with the tags it is saved under.

    Saving by ID keeps no tag (docker writes ``RepoTags: null``); saving by
    name keeps that name, when it is one of the image's tags.
    """
    chosen: dict[str, tuple["StoredImage", list[str]]] = {}
    for name in names:
        image = store.image(name)
        entry = chosen.setdefault(str(image.id), (image, []))
        ref = Reference.try_parse(name)
        if ref is not None and ref.digest is None and str(ref) in image.tags and ref.familiar not in entry[1]:
            entry[1].append(ref.familiar)
    return list(chosen.values())


def _check_format(format: str) -> None:
    if format not in SAVE_FORMATS:
        raise UsageError(f"unknown save format {format!r} (expected one of: {', '.join(SAVE_FORMATS)})")


def save(store: "Store", names: Sequence[str], target: Path, format: str = "docker") -> None:
    """Write the named images to ``target``: a tar file (whole or not at all) or, for ``oci``, a layout directory."""
    _check_format(format)
    images = images_to_save(store, names)
    # A failed or killed save leaves nothing: not half an output, nor a hidden temp once the next command ran.
    if saves_directory(format):
        with partial_output_dir(store.layout, Path(target)) as directory:
            write_oci_layout(images, directory)
        return
    with partial_output_file(store.layout, Path(target)) as out:
        write_docker_archive(images, out, layout=_ARCHIVE_LAYOUTS[format])


def save_to_stream(store: "Store", names: Sequence[str], out: BinaryIO, format: str = "docker") -> None:
    """Stream a docker-archive of the named images to ``out`` (``save`` without ``-o``)."""
    _check_format(format)
    if saves_directory(format):
        raise UsageError(f"--format {format} writes a directory: give it with -o DIR")
    write_docker_archive(images_to_save(store, names), out, layout=_ARCHIVE_LAYOUTS[format])
