"""ADD <url>: download one file to a temporary directory, as Docker's classic builder does.

The file gets mode 0600, its mtime from ``Last-Modified`` (the epoch when the
header is absent or unreadable) and a name from the URL path, else from
``Content-Disposition``. ``--checksum=sha256:<hex>`` is verified before the
file is used. A downloaded file is never unpacked, even when it is a tar.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from email.message import Message

from layerlab.engine.errors import BuildError
from layerlab.engine.record_type import record

UNNAMED = "__unnamed__"
_CHUNK = 1 << 20
_TIMEOUT = 60


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


@record(frozen=True)
class Download:
    path: Path      # the downloaded file (mode 0600, mtime set)
    filename: str   # the name Docker gives it; "" when neither the URL nor the headers name it


def parse_checksum(checksum: str) -> str:
    algorithm, _, value = checksum.partition(":")
    if algorithm != "sha256" or not re.fullmatch(r"[0-9a-f]{64}", value):
        raise BuildError(f"invalid checksum {checksum!r}: expected sha256:<64 hex digits>")
    return value


def download(url: str, into: Path, *, checksum: str | None = None, command: str = "ADD") -> Download:
    # urllib.request brings http.client, ssl and email: imported here, by the builds that download
    import urllib.error
    import urllib.request

    expected = parse_checksum(checksum) if checksum else None
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers={"User-Agent": "layerlab"}),
                                          timeout=_TIMEOUT)
    except urllib.error.HTTPError as error:
        raise BuildError(f"{command} failed: failed to GET {url} with status {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise BuildError(f"{command} failed: failed to GET {url}: {reason}") from None
    target = Path(into) / "download"
    hasher = hashlib.sha256()
    with response:
        filename = filename_for_download(urllib.parse.urlsplit(url).path, response.headers)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as out:
            try:
                while chunk := response.read(_CHUNK):
                    hasher.update(chunk)
                    out.write(chunk)
            except OSError as error:
                raise BuildError(f"{command} failed: reading {url}: {error}") from None
        last_modified = response.headers.get("Last-Modified")
    if expected is not None and hasher.hexdigest() != expected:
        raise BuildError(f"{command} failed: checksum mismatch for {url}: expected sha256:{expected},"
                         f" got sha256:{hasher.hexdigest()}")
    os.chmod(target, 0o600)
    mtime = _http_time(last_modified)
    os.utime(target, ns=(mtime * 1_000_000_000, mtime * 1_000_000_000))
    return Download(target, filename)


def filename_for_download(url_path: str, headers: Message) -> str:
    """moby's getFilenameForDownload: the URL path's base, else Content-Disposition's filename."""
    if url_path and not url_path.endswith("/"):
        name = posixpath.basename(urllib.parse.unquote(url_path))
        if name:
            return name
    disposition = headers.get("Content-Disposition")
    if disposition:
        from email.message import Message

        parsed = Message()
        parsed["Content-Disposition"] = disposition
        name = parsed.get_param("filename", header="Content-Disposition")
        if isinstance(name, str) and name and not name.endswith("/"):
            return posixpath.basename(name)
    return ""


def _http_time(value: str | None) -> int:
    if not value:
        return 0
    import email.utils

    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 0
    return max(0, int(parsed.timestamp()))
