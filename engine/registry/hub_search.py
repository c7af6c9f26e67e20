"""``search`` against Docker Hub's search API (the index's ``/v1/search``), as ``docker search`` does.

``GET {index}/v1/search?q=TERM&n=LIMIT`` answers
``{"num_results", "query", "results": [{"name", "description", "star_count",
"is_official", "is_automated"}]}``. As in Docker, the limit goes to the server
(1 to 100, 25 by default) and the filters (``stars=N``, ``is-official``,
``is-automated``) apply to what comes back. ``LAYERLAB_INDEX_URL`` names
another index (a mirror, or a test's server).
"""

from __future__ import annotations

import json
import os
import urllib.parse

from layerlab.engine.errors import RegistryError, UsageError
from layerlab.engine.record_type import record
from layerlab.engine.registry.client import RegistryClient

DEFAULT_INDEX = "https://index.docker.io"
INDEX_ENV = "LAYERLAB_INDEX_URL"
DEFAULT_LIMIT = 25
MAX_LIMIT = 100


@record(frozen=True)
class SearchResult:
    name: str
    description: str
    star_count: int
    is_official: bool
    is_automated: bool


@record(frozen=True)
class SearchFilter:
    stars: int = 0
    is_official: bool | None = None
    is_automated: bool | None = None

    @classmethod
    def parse(cls, words: list[str]) -> "SearchFilter":
        """``--filter`` words as Docker takes them; a bad one is a ``UsageError`` naming it."""
        values: dict[str, object] = {}
        for word in words:
            key, sep, value = word.partition("=")
            if not sep:
                raise UsageError(f"bad format of filter (expected name=value): {word}")
            if key == "stars":
                try:
                    values["stars"] = int(value)
                except ValueError:
                    raise UsageError(f"invalid filter 'stars={value}'") from None
            elif key in ("is-official", "is-automated"):
                if value.lower() not in ("true", "false", "1", "0"):
                    raise UsageError(f"invalid filter '{key}={value}'")
                values[key.replace("-", "_")] = value.lower() in ("true", "1")
            else:
                raise UsageError(f"invalid filter '{key}'")
        return cls(**values)  # type: ignore[arg-type]

    def keeps(self, result: SearchResult) -> bool:
        return (result.star_count >= self.stars
                and (self.is_official is None or result.is_official == self.is_official)
                and (self.is_automated is None or result.is_automated == self.is_automated))


def index_url() -> str:
    return (os.environ.get(INDEX_ENV) or DEFAULT_INDEX).rstrip("/")


def hub_search(term: str, *, limit: int = DEFAULT_LIMIT, filters: SearchFilter = SearchFilter(),
               index: str | None = None, client: RegistryClient | None = None) -> list[SearchResult]:
    if not 1 <= limit <= MAX_LIMIT:
        raise UsageError(f"limit {limit} is outside the range of [1, {MAX_LIMIT}]")
    base = (index or index_url()).rstrip("/")
    parts = urllib.parse.urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"{INDEX_ENV}: {base!r} is not an http(s) URL")
    client = client or RegistryClient(parts.netloc, credentials=None)
    try:
        term.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(f"search term {term!r} is not valid UTF-8") from None
    query = urllib.parse.urlencode({"q": term, "n": str(limit)})
    response = client.request("GET", f"{base}/v1/search?{query}", scope="", what=f"searching for {term!r}")
    try:
        data = json.loads(response.body)
        rows = data["results"] or []
        results = [SearchResult(str(row.get("name", "")), str(row.get("description") or ""),
                                int(row.get("star_count") or 0), bool(row.get("is_official")),
                                bool(row.get("is_automated"))) for row in rows]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise RegistryError(f"{parts.netloc}: searching for {term!r}: the answer is not Hub's search JSON") from None
    return [result for result in results if filters.keeps(result)]
