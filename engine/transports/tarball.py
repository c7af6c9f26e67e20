"""``import``: a root filesystem tarball (any compression) becomes a one-layer image.

The layer is the decompressed tar, byte for byte, so its diff ID is the
sha256 of what ``docker import`` would store. The container config
comes in ready made; ``-m`` becomes the comment.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timezone
from typing import Any, BinaryIO, Mapping

from layerlab.engine.errors import ArchiveError, CorruptLayer, NotFound
from layerlab.engine.oci import mediatypes as mt
from layerlab.engine.oci.config import HistoryEntry, ImageConfig, format_time
from layerlab.engine.oci.digest import CHUNK, Hasher
from layerlab.engine.layers.compression import open_decompressed
from layerlab.engine.layers.tarscan import scan
from layerlab.engine.record_type import record
from layerlab.engine.transports.memory import ConfigImage, RangeLayer
from layerlab.engine.transports.oci_layout import host_platform_spec


@record
class ImportedImage:
    """The image made by ``import``; close it after the store has taken the layer."""

    image: ConfigImage
    _temp_path: str | None = None

    def close(self) -> None:
        if self._temp_path and os.path.exists(self._temp_path):
            os.unlink(self._temp_path)
        self._temp_path = None

    def __enter__(self) -> "ImportedImage":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _check_tar(path: str, label: str) -> None:
    """Every header readable (contents are skipped by seeking); an empty file is no tar either."""
    try:
        with open(path, "rb") as stream:
            for _ in scan(stream, where=label):
                pass
            if not stream.tell():
                raise CorruptLayer(f"{label}: not a valid tar archive: empty file")
    except CorruptLayer as error:
        raise ArchiveError(str(error)) from None


def import_tarball(source: str | os.PathLike | BinaryIO, *, config: Mapping[str, Any] | None = None, message: str = "",
                   source_label: str | None = None, created: datetime | None = None,
                   spool_dir: str | None = None) -> ImportedImage:
    """Make a one-layer image from a rootfs tarball (a path, or a stream such as stdin).

    ``config`` is the image's container config (``import --change`` lines already
    applied, by ``layerlab.engine.api.importing``).
    """
    if isinstance(source, (str, os.PathLike)):
        label = source_label or os.fspath(source)
        try:
            stream: BinaryIO = open(source, "rb")
        except FileNotFoundError:
            raise NotFound(f"{label}: no such file") from None
    else:
        label = source_label or "-"
        stream = source
    reader = stream if hasattr(stream, "peek") else __import__("io").BufferedReader(stream, CHUNK)
    fd, temp = tempfile.mkstemp(prefix=f"{os.getpid()}-import-", suffix=".tar", dir=spool_dir)
    try:
        hasher = Hasher()
        try:
            with os.fdopen(fd, "wb") as out:
                decompressed = open_decompressed(reader)
                while chunk := decompressed.read(CHUNK):
                    hasher.update(chunk)
                    out.write(chunk)
        except (OSError, EOFError, ValueError, CorruptLayer) as error:
            raise ArchiveError(f"{label}: cannot decompress: {error}") from None
        finally:
            if isinstance(source, (str, os.PathLike)):
                stream.close()
        _check_tar(temp, label)
        diff_id = hasher.digest()
        layer = RangeLayer(temp, 0, hasher.size, diff_id, diff_id, mt.DOCKER_LAYER_TAR)
        when = format_time(created or datetime.now(timezone.utc))
        comment = message or f"Imported from {label}"
        spec = host_platform_spec()
        image_config = ImageConfig.new(os=spec.os, architecture=spec.architecture, created=when,
                                       config=dict(config or {}))

        def finish(data: dict) -> None:
            data["rootfs"] = {"type": "layers", "diff_ids": [str(diff_id)]}
            data["history"] = [HistoryEntry(created=when, comment=comment).to_dict()]
            if message:
                data["comment"] = message

        image_config = image_config.evolve(finish)
        return ImportedImage(ConfigImage(image_config.to_bytes(), (layer,)), temp)
    except BaseException:
        os.unlink(temp)
        raise
