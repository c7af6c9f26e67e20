"""Discovery: the registry's catalog (``search``) and a repository's tags, page by page."""

from __future__ import annotations

import json
import re
import urllib.parse

from layerlab.engine.errors import RegistryError
from layerlab.engine.registry.client import RegistryClient
from layerlab.engine.registry.manifests import pull_scope

PAGE = 100
MAX_PAGES = 1000
_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


def _pages(client: RegistryClient, first: str, key: str, *, scope: str, what: str) -> list[str]:
    """Follow ``Link: <…>; rel="next"`` headers, collecting ``key`` from every page."""
    out: list[str] = []
    target: str | None = first
    for _ in range(MAX_PAGES):
        if target is None:
            return out
        response = client.request("GET", target, scope=scope, what=what)
        try:
            data = json.loads(response.body)
            items = data.get(key) or []
        except (ValueError, AttributeError):
            raise RegistryError(f"{client.domain}: {what}: the answer is not the expected JSON") from None
        if not isinstance(items, list):
            raise RegistryError(f"{client.domain}: {what}: {key!r} is not a list")
        out.extend(str(item) for item in items)
        match = _NEXT.search(response.header("Link"))
        target = urllib.parse.urljoin("/", match.group(1)) if match and match.group(1).startswith("/") else \
            (match.group(1) if match else None)
    raise RegistryError(f"{client.domain}: {what}: more than {MAX_PAGES} pages")


def catalog(client: RegistryClient, *, page_size: int = PAGE) -> list[str]:
    """Every repository the registry lists (``GET /v2/_catalog``)."""
    return _pages(client, f"/v2/_catalog?n={page_size}", "repositories", scope="registry:catalog:*",
                  what="listing the catalog")


def search(client: RegistryClient, term: str, *, page_size: int = PAGE) -> list[str]:
    """Repositories whose name contains ``term`` (case-insensitive), in the registry's order."""
    needle = term.lower()
    return [name for name in catalog(client, page_size=page_size) if needle in name.lower()]


def list_tags(client: RegistryClient, repository: str, *, page_size: int = PAGE) -> list[str]:
    return _pages(client, f"/v2/{repository}/tags/list?n={page_size}", "tags", scope=pull_scope(repository),
                  what=f"listing tags of {repository}")
