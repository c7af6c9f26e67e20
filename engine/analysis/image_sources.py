"""Where an analysed image comes from: the store, a docker-archive file, an OCI layout.

A source spec is ``docker-archive:FILE``, ``oci:DIR`` (optionally followed
by ``@TAG`` to pick one image) or, without a prefix, an image in the store.
Archives and layouts are read in place, never imported.
"""

from __future__ import annotations

from typing import Callable

from layerlab.engine.analysis.image_pass import LayerSource
from layerlab.engine.analysis.history import guess_base_layers, layer_instructions, parse_history
from layerlab.engine.errors import NotFound, UsageError
from layerlab.engine.image import Image
from layerlab.engine.oci.config import HistoryEntry
from layerlab.engine.record_type import field, record

ARCHIVE_PREFIX = "docker-archive:"
LAYOUT_PREFIX = "oci:"


@record
class AnalysisImage:
    """An image ready for analysis: its layers as ``LayerSource``s and its history."""

    name: str
    image: Image
    history: list[HistoryEntry]
    _close: Callable[[], None] | None = field(default=None, repr=False)

    def instructions(self) -> list[str]:
        return layer_instructions(self.history, len(self.image.layers()))

    def layer_sources(self) -> list[LayerSource]:
        sources = []
        for index, (layer, text) in enumerate(zip(self.image.layers(), self.instructions())):
            sources.append(LayerSource(open=layer.open_uncompressed, instruction=text, diff_id=str(layer.diff_id),
                                       label=f"{self.name}: layer {index} ({layer.diff_id})"))
        return sources

    def base_layers(self, override: int | None = None) -> int:
        count = len(self.image.layers())
        if override is not None:
            if not 0 <= override <= count:
                raise UsageError(f"--base-layers {override}: the image has {count} layers")
            return override
        return guess_base_layers(self.history, count)

    def close(self) -> None:
        if self._close is not None:
            self._close()
            self._close = None


def _pick(images: list, want: str | None, where: str):
    if not images:
        raise NotFound(f"{where}: holds no image")
    if want is None:
        if len(images) > 1:
            names = ", ".join(tag for _, tags in images for tag in tags) or f"{len(images)} untagged images"
            raise UsageError(f"{where}: holds several images ({names}); name one with {where}@TAG")
        return images[0]
    for image, tags in images:
        if want in tags or any(tag.endswith("/" + want) or tag.split("/")[-1] == want for tag in tags):
            return image, tags
        if str(image.config_digest).startswith(want) or image.config_digest.hex.startswith(want):
            return image, tags
    raise NotFound(f"{where}: no image named {want!r}")


def _split(spec: str) -> tuple[str, str | None]:
    """'FILE@TAG' -> (FILE, TAG); a path holding '@' stays whole when no tag follows."""
    path, at, tag = spec.rpartition("@")
    if at and path and "/" not in tag:
        return path, tag
    return spec, None


def open_source(spec: str, *, store: Callable[[], object] | None) -> AnalysisImage:
    """Open the image ``spec`` names; ``store()`` returns the store (called only when needed)."""
    if spec.startswith(ARCHIVE_PREFIX):
        from layerlab.engine.transports.docker_archive import open_docker_archive

        path, want = _split(spec[len(ARCHIVE_PREFIX):])
        archive = open_docker_archive(path)
        try:
            image, tags = _pick(archive.images, want, spec)
            history = parse_history(image.config_bytes(), where=f"{path}: image config")
        except BaseException:
            archive.close()
            raise
        return AnalysisImage(tags[0] if tags else path, image, history, archive.close)
    if spec.startswith(LAYOUT_PREFIX):
        from layerlab.engine.transports.oci_layout import read_oci_layout

        path, want = _split(spec[len(LAYOUT_PREFIX):])
        images = read_oci_layout(path)
        image, tags = _pick(images, want, spec)
        return AnalysisImage(tags[0] if tags else path, image,
                             parse_history(image.config_bytes(), where=f"{path}: image config"))
    if store is None:
        raise UsageError(f"{spec}: no store to look the image up in")
    image = store().image(spec)
    return AnalysisImage(spec, image, parse_history(image.config_bytes(), where=f"image {spec}: config"))
