"""A step's result into the store: its layer tar (or none), then an image whose parent is the step's parent.

The image is the classic builder's: ``config`` is the stage's runConfig, ``container_config`` the same
with ``Cmd`` set to the step's description, a fresh container ID, and one history entry.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from layerlab.engine.builder.buildkit import CLASSIC_ROW, HISTORY_COMMENT
from layerlab.engine.builder.cache_key import created_by
from layerlab.engine.builder.dispatch import StageState, full_config
from layerlab.engine.builder.workspace import new_step_dir, remove_workspace
from layerlab.engine.layers.write import LayerBlob, write_layer_from_dir, write_layer_from_overlay_upper
from layerlab.engine.oci import mediatypes as mt
from layerlab.engine.oci.config import HistoryEntry, format_time
from layerlab.engine.oci.digest import Digest, short_id
from layerlab.engine.record_type import record
from layerlab.engine.store import Store, StoredImage
from layerlab.engine.store.measure import LayerMeasure
from layerlab.engine.transports.memory import ConfigImage, RangeLayer

# The diff ID of a layer that adds nothing (a tar of two zero blocks): Docker marks it empty_layer.
EMPTY_LAYER_DIFF_ID = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"


@record
class NewLayer:
    path: Path               # the layer tar, in the step's scratch dir
    blob: LayerBlob
    tree: Path               # the directory the tar records (staged files or an upperdir): the layer's snapshot
    reused_files: int = 0    # files linked unchanged from the step's previous layer (a COPY's), not written


@record(frozen=True)
class Committed:
    image: StoredImage
    layer_size: int          # the stored layer's size; 0 for an empty layer
    layer_digest: str        # its diff ID; "" for an empty layer


def write_layer(tree: Path, step_dir: Path, *, overlay: bool, owner: tuple[int, int] | None = None,
                keep_empty: bool = False) -> NewLayer | None:
    """``tree`` (an overlay upperdir, or a staged directory) as a layer tar; None when it adds nothing,
    unless ``keep_empty`` (BuildKit's WORKDIR commits an empty tar)."""
    layer_path = step_dir / "layer.tar"
    with open(layer_path, "wb") as out:
        if overlay:
            blob = write_layer_from_overlay_upper(tree, out)
        else:
            blob = write_layer_from_dir(tree, out, owner=owner)
    if str(blob.diff_id) == EMPTY_LAYER_DIFF_ID and not keep_empty:
        return None
    # The tree the tar records is the layer in overlay form already: it becomes the snapshot (see commit).
    # An owner override only happens without root, where unpacking could not set owners either.
    return NewLayer(layer_path, blob, tree)


def staged_layer(workspace: Path, index: int, stage: Callable[[Path], tuple[int, int] | None], *,
                 keep_empty: bool = False) -> NewLayer | None:
    """A layer made of files staged in a fresh directory (COPY, ADD, WORKDIR).

    ``stage(out_dir)`` fills ``out_dir`` and returns the one owner the layer must give every file when
    they could not be chowned on disk (None when they carry their own). Nothing is left on failure.
    """
    step_dir = new_step_dir(workspace, index)
    try:
        out_dir = step_dir / "add"
        out_dir.mkdir()
        owner = stage(out_dir)
        return write_layer(out_dir, step_dir, overlay=False, owner=owner, keep_empty=keep_empty)
    except BaseException:
        remove_workspace(step_dir)
        raise



def commit(store: Store, state: StageState, command: tuple[str, ...], layer: NewLayer | None, *,
           run_step: bool, buildkit_row: str | None = CLASSIC_ROW) -> Committed:
    """Commit a step. ``buildkit_row`` other than ``CLASSIC_ROW`` commits as BuildKit does: that
    history row (None: no row at all), its comment, and no parent image."""
    buildkit = buildkit_row != CLASSIC_ROW
    container_id = os.urandom(32).hex()  # what secrets.token_hex does, without loading secrets and base64
    now = format_time(datetime.now(timezone.utc))
    parent_id = state.image_id
    run_config = full_config({**state.config, "Image": parent_id})
    container_config = dict(state.config, Cmd=list(command), Image=parent_id, Hostname=short_id(container_id))
    if run_step:
        container_config["Entrypoint"] = None
    author = state.maintainer

    def change(data: dict[str, Any]) -> None:
        data["config"] = run_config
        data["container_config"] = full_config(container_config)
        data["container"] = container_id
        data["created"] = now
        data.pop("docker_version", None)
        if author:
            data["author"] = author

    def change_buildkit(data: dict[str, Any]) -> None:
        # BuildKit writes neither container_config nor container; ArgsEscaped comes with CMD/ENTRYPOINT.
        data["config"] = {key: value for key, value in run_config.items() if key != "Image"}
        if data["config"].get("Cmd") or data["config"].get("Entrypoint"):
            data["config"]["ArgsEscaped"] = True
        data.pop("container_config", None)
        data.pop("container", None)
        data.pop("comment", None)
        data["created"] = now
        data.pop("docker_version", None)

    diff_id = layer.blob.diff_id if layer else None
    if not buildkit:
        config = state.image.evolve(change).with_layer(
            diff_id, HistoryEntry(created=now, created_by=created_by(command), author=author,
                                  empty_layer=layer is None))
    elif buildkit_row is None:
        config = state.image.evolve(change_buildkit)
    else:
        config = state.image.evolve(change_buildkit).with_layer(
            diff_id, HistoryEntry(created=now, created_by=buildkit_row, comment=HISTORY_COMMENT,
                                  empty_layer=layer is None))
    parent = store.image(parent_id) if parent_id else None
    layers = list(parent.layers()) if parent else []
    config_raw = config.to_bytes()
    # One wait for the disk for the step's blobs (layer, config, manifest synced together, their
    # directory once) and one metadata transaction for its image and snapshot; the root lock first,
    # as every writer takes them, so a deleter never waits on us in between.
    with store.lock.shared(), store.blobs.batched_dir_syncs():
        measured: dict[Digest, LayerMeasure] = {}
        blobs: list[tuple[bytes | Path, Digest | None, str]] = []
        if layer:
            blob = layer.blob
            layers.append(RangeLayer(str(layer.path), 0, blob.size, blob.diff_id, blob.diff_id,
                                     mt.DOCKER_LAYER_TAR))
            # The tar was hashed and measured as it was written: it becomes the blob by a rename. A name
            # no layer may carry is left to the store's own reading, which refuses it with the digest.
            if blob.bad_entry is None:
                blobs.append((layer.path, blob.diff_id, f"layer {blob.diff_id}"))
        manifest_raw = ConfigImage(config_raw, tuple(layers)).manifest_bytes()
        blobs += [(config_raw, Digest.of_bytes(config_raw), "image config"),
                  (manifest_raw, Digest.of_bytes(manifest_raw), "image manifest")]
        store.blobs.put_together(blobs)
        if layer and blob.bad_entry is None and not layer.path.exists():
            # moved in: the store records it from the writer's numbers (a blob that was present already
            # stays, and the store checks that copy as for any layer arriving)
            layers[-1] = RangeLayer(str(store.blobs.path(blob.diff_id)), 0, blob.size, blob.diff_id,
                                    blob.diff_id, mt.DOCKER_LAYER_TAR)
            measured[blob.diff_id] = LayerMeasure(blob.diff_id, blob.size, blob.content_size)
        with store.meta.transaction():
            stored = store.put_image(ConfigImage(config_raw, tuple(layers), manifest=manifest_raw),
                                     parent=None if buildkit else parent_id or None, measured=measured)
            if layer is not None:
                # The layer's snapshot, made by moving the tree rather than unpacking the tar just written
                # from it: a step costs a rename for its own files, nothing for the image below.
                store.adopt_layer(stored, layer.tree)
    if layer is None:
        return Committed(stored, 0, "")
    remove_workspace(layer.path.parent)
    return Committed(stored, stored.layers()[-1].content_size, str(layer.blob.diff_id))
