"""Chain IDs per the OCI image spec (config.md, "Layer ChainID").

ChainID(L0) = DiffID(L0); ChainID(L0|…|Ln) = sha256(ChainID(L0|…|Ln-1) + " " + DiffID(Ln)).
A chain ID names a whole stack of layers, so it names a snapshot directory.
"""

from __future__ import annotations

from typing import Sequence

from layerlab.engine.oci.digest import Digest


def chain_ids(diff_ids: Sequence[Digest]) -> list[Digest]:
    """The chain ID of every prefix of ``diff_ids`` (same length, bottom to top)."""
    result: list[Digest] = []
    for diff_id in diff_ids:
        if not result:
            result.append(diff_id)
        else:
            result.append(Digest.of_bytes(f"{result[-1]} {diff_id}".encode()))
    return result


def chain_id(diff_ids: Sequence[Digest]) -> Digest | None:
    """The chain ID of the whole stack, ``None`` for no layers."""
    ids = chain_ids(diff_ids)
    return ids[-1] if ids else None
