"""Image history: which instruction made each layer, and where the base image ends."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from layerlab.engine.errors import ArchiveError

_ARGS_PREFIX = re.compile(r"^\|\d+(?:\s+\S+=\S*)*\s+")
_BUILDKIT_SUFFIX = " # buildkit"
_KNOWN = {"RUN", "COPY", "ADD", "FROM", "CMD", "ENTRYPOINT", "ENV", "ARG", "LABEL", "WORKDIR", "USER",
          "EXPOSE", "VOLUME", "SHELL", "STOPSIGNAL", "HEALTHCHECK", "ONBUILD", "MAINTAINER"}


@dataclass(frozen=True)
class HistoryRow:
    created_by: str
    empty_layer: bool
    comment: str = ""

    @property
    def instruction(self) -> str:
        return instruction_text(self.created_by)


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


def parse_history(config_bytes: bytes, *, where: str = "image config") -> list[HistoryRow]:
    try:
        config = json.loads(config_bytes)
    except (ValueError, UnicodeDecodeError) as error:
        raise ArchiveError(f"{where}: not valid JSON: {error}") from None
    rows = []
    for item in config.get("history") or []:
        if isinstance(item, dict):
            rows.append(HistoryRow(str(item.get("created_by") or ""), bool(item.get("empty_layer")),
                                   str(item.get("comment") or "")))
    return rows


def layer_instructions(rows: list[HistoryRow], layer_count: int) -> list[str]:
    """One instruction per layer: history rows that made a layer, in order ("(missing)" when short)."""
    made_layer = [row.instruction for row in rows if not row.empty_layer]
    return (made_layer + ["(missing)"] * layer_count)[:layer_count]


def guess_base_layers(rows: list[HistoryRow], layer_count: int) -> int:
    """How many bottom layers came from the base image.

    A base image ends with its CMD or ENTRYPOINT; the last such row that is
    followed by rows making layers marks the boundary. Without one, only the
    first layer counts as base (dive's assumption).
    """
    boundaries = []
    layers_before = 0
    for row in rows:
        if instruction_kind(row.instruction) in ("CMD", "ENTRYPOINT"):
            boundaries.append(layers_before)
        if not row.empty_layer:
            layers_before += 1
    inside = [boundary for boundary in boundaries if 0 < boundary < layer_count]
    if inside:
        return max(inside)
    return 1 if layer_count > 1 else 0
