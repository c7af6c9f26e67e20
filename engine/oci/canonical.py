"""JSON encodings that give the same bytes (and so the same digests) as Go tools.

``canonical_json`` is what OCI tools use for content they hash: sorted keys,
no whitespace, UTF-8. ``docker_json`` additionally escapes ``<``, ``>``, ``&``,
U+2028 and U+2029 the way Go's ``encoding/json`` does, so a config we write
ourselves hashes as Docker's would.
"""

from __future__ import annotations

import json
import re
from typing import Any

from layerlab.engine.errors import ArchiveError

# Text carrying bytes that are not UTF-8 (surrogate-escaped on the way in) is written as Go writes
# invalid UTF-8: each bad byte becomes the escape \ufffd, so the digest matches Docker's.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def canonical_json(obj: Any) -> bytes:
    """Sorted keys, compact separators, UTF-8 (non-ASCII kept as is)."""
    return _utf8(json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False))


def docker_json(obj: Any, *, sort_keys: bool = True) -> bytes:
    """Like ``canonical_json`` with Go's HTML-safe escapes.

    The escapes can only appear inside strings (they are not JSON syntax), so
    replacing them in the encoded text is exact.
    """
    text = json.dumps(obj, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False)
    for char, escape in _GO_ESCAPES.items():
        if char in text:
            text = text.replace(char, escape)
    return _utf8(text)


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return _LONE_SURROGATE.sub(lambda _: "\\ufffd", text).encode("utf-8")


def load_json_object(raw: bytes, where: str) -> dict[str, Any]:
    """Parse ``raw`` as a JSON object; ``ArchiveError`` naming ``where`` otherwise."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise ArchiveError(f"{where}: not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise ArchiveError(f"{where}: expected a JSON object")
    return data
