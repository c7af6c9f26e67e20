"""Image references as Docker reads them.

``Reference.parse("busybox")`` is ``docker.io/library/busybox:latest``;
``.familiar`` gives back ``busybox:latest`` for display. The grammar is
distribution/reference's: lowercase path components separated by ``/``, an
optional registry domain first (it has a ``.`` or ``:``, is ``localhost``, or
has uppercase letters), ``:tag`` and/or ``@digest``.
"""

from __future__ import annotations

import re

from layerlab.engine.errors import InvalidReference
from layerlab.engine.oci.digest import Digest
from layerlab.engine.values import Value, set_fields

DEFAULT_DOMAIN = "docker.io"
LEGACY_DOMAINS = ("index.docker.io", "registry-1.docker.io")
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_MAX = 255

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_PATH = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_DOMAIN_LABEL = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(rf"^(?:{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_HEX64 = re.compile(r"^[a-f0-9]{64}$")


class Reference(Value):
    """A frozen value (a ``Value`` rather than a dataclass: every command's start-up parses one)."""

    __slots__ = ("domain", "path", "tag", "digest")
    domain: str
    path: str
    tag: str | None
    digest: Digest | None

    def __init__(self, domain: str, path: str, tag: str | None = None, digest: Digest | None = None) -> None:
        set_fields(self, domain, path, tag, digest)

    @classmethod
    def parse(cls, text: str, *, default_tag: str | None = DEFAULT_TAG) -> "Reference":
        """Normalize ``text``; a reference with neither tag nor digest gets ``default_tag``.

        Raises ``InvalidReference`` naming the text and what is wrong with it.
        """
        if not text or text != text.strip():
            raise InvalidReference(f"invalid reference format: {text!r} is empty or has surrounding spaces")
        if _HEX64.match(text):
            raise InvalidReference(
                f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings")
        rest, digest = text, None
        if "@" in rest:
            rest, _, digest_text = rest.partition("@")
            try:
                digest = Digest.parse(digest_text)
            except InvalidReference:
                raise InvalidReference(f"invalid reference format: {text!r} has a bad digest") from None
        tag = None
        last_slash = rest.rfind("/")
        colon = rest.rfind(":")
        if colon > last_slash:
            rest, tag = rest[:colon], rest[colon + 1:]
            if not _TAG.match(tag):
                raise InvalidReference(f"invalid reference format: {text!r} has an invalid tag {tag!r}")
        domain, path = _split_domain(rest, text)
        if not _PATH.match(path):
            if path.lower() != path and _PATH.match(path.lower()):
                raise InvalidReference(f"invalid reference format: repository name must be lowercase: {text!r}")
            raise InvalidReference(f"invalid reference format: {text!r}")
        if len(domain) + 1 + len(path) > NAME_MAX:
            raise InvalidReference(f"invalid reference format: repository name longer than {NAME_MAX}: {text!r}")
        if tag is None and digest is None and default_tag is not None:
            tag = default_tag
        return cls(domain, path, tag, digest)

    @classmethod
    def try_parse(cls, text: str, **kwargs) -> "Reference | None":
        try:
            return cls.parse(text, **kwargs)
        except InvalidReference:
            return None

    @property
    def repository(self) -> str:
        """Full repository name: ``docker.io/library/busybox``."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_name(self) -> str:
        """Repository as Docker displays it: ``busybox``, ``user/app``, ``localhost:5000/app``."""
        if self.domain == DEFAULT_DOMAIN:
            return self.path[len(OFFICIAL_PREFIX):] if self.path.startswith(OFFICIAL_PREFIX) else self.path
        return self.repository

    @property
    def familiar(self) -> str:
        """``busybox:latest`` / ``busybox@sha256:…`` as Docker prints it."""
        return self.familiar_name + self._suffix()

    def _suffix(self) -> str:
        out = f":{self.tag}" if self.tag else ""
        if self.digest is not None:
            out += f"@{self.digest}"
        return out

    def with_tag(self, tag: str) -> "Reference":
        if not _TAG.match(tag):
            raise InvalidReference(f"invalid tag {tag!r}")
        return Reference(self.domain, self.path, tag, None)

    def with_digest(self, digest: Digest) -> "Reference":
        return Reference(self.domain, self.path, None, digest)

    def name_only(self) -> "Reference":
        return Reference(self.domain, self.path)

    def __str__(self) -> str:
        return self.repository + self._suffix()


def _split_domain(name: str, text: str) -> tuple[str, str]:
    first, sep, remainder = name.partition("/")
    if sep and (any(c in first for c in ".:") or first == "localhost" or first.lower() != first):
        if not _DOMAIN.match(first):
            raise InvalidReference(f"invalid reference format: {text!r} has an invalid registry {first!r}")
        domain, path = first, remainder
    else:
        domain, path = DEFAULT_DOMAIN, name
    if domain in LEGACY_DOMAINS:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = OFFICIAL_PREFIX + path
    return domain, path


def normalize(text: str) -> str:
    """The canonical string of a tag reference (``docker.io/library/busybox:latest``)."""
    return str(Reference.parse(text))


def familiar(text: str) -> str:
    return Reference.parse(text).familiar
