"""Image history: which instruction made each layer, and where the base image ends."""

from __future__ import annotations

import re
from typing import Sequence

from layerlab.engine.oci.config import HistoryEntry, ImageConfig, history_by_layer

_ARGS_PREFIX = re.compile(r"^\|\d+(?:\s+\S+=\S*)*\s+")
_BUILDKIT_SUFFIX = " # buildkit"
_KNOWN = {"RUN", "COPY", "ADD", "FROM", "CMD", "ENTRYPOINT", "ENV", "ARG", "LABEL", "WORKDIR", "USER",
          "EXPOSE", "VOLUME", "SHELL", "STOPSIGNAL", "HEALTHCHECK", "ONBUILD", "MAINTAINER"}


def instruction_text(created_by: str) -> str:
    """A Dockerfile-like line for a history ``created_by``, legacy builder or BuildKit."""
    text = created_by.strip()
    if text.endswith(_BUILDKIT_SUFFIX):
        text = text[: -len(_BUILDKIT_SUFFIX)].rstrip()
    text = _ARGS_PREFIX.sub("", text)
    if text.startswith("/bin/sh -c #(nop) "):
        return text[len("/bin/sh -c #(nop) "):].strip()
    if text.startswith("/bin/sh -c "):
        return "RUN " + text[len("/bin/sh -c "):].strip()
    if text.startswith("RUN /bin/sh -c "):
        return "RUN " + text[len("RUN /bin/sh -c "):].strip()
    return text


def instruction_kind(instruction: str) -> str:
    word = instruction.split(None, 1)[0].upper() if instruction.strip() else ""
    return word if word in _KNOWN else ""


def parse_history(config_bytes: bytes, *, where: str = "image config") -> list[HistoryEntry]:
    return ImageConfig.parse(config_bytes, where=where).history


def layer_instructions(history: Sequence[HistoryEntry], layer_count: int) -> list[str]:
    """One instruction per layer: history entries that made a layer, in order ("(missing)" when short)."""
    made_layer = {index: instruction_text(entry.created_by)
                  for entry, index in history_by_layer(history) if index is not None}
    return [made_layer.get(index, "(missing)") for index in range(layer_count)]


def guess_base_layers(history: Sequence[HistoryEntry], layer_count: int) -> int:
    """How many bottom layers came from the base image.

    A base image ends with its CMD or ENTRYPOINT; the last such row that is
    followed by entries making layers marks the boundary. Without one, only the
    first layer counts as base (dive's assumption).
    """
    boundaries = []
    layers_before = 0
    for entry in history:
        if instruction_kind(instruction_text(entry.created_by)) in ("CMD", "ENTRYPOINT"):
            boundaries.append(layers_before)
        if not entry.empty_layer:
            layers_before += 1
    inside = [boundary for boundary in boundaries if 0 < boundary < layer_count]
    if inside:
        return max(inside)
    return 1 if layer_count > 1 else 0
