"""One error hierarchy for the whole engine.

Every error carries enough context (reference, digest, path, Dockerfile line)
for a front end to print one clear line with no traceback::

    LayerlabError
     ├── UsageError            bad arguments or options
     ├── InvalidReference      a malformed image reference
     ├── NotFound              no such image, tag, blob, layer, path
     ├── Conflict              the operation would break something (image in use, tag clash)
     ├── DigestMismatch        content does not hash to the digest it claims
     ├── LayerError            a layer tar that cannot be applied
     │    ├── UnsafeLayer      an entry that would escape the target or is forbidden
     │    ├── LayerTooLarge    decompressed size above the bound (tar bomb)
     │    └── CorruptLayer     truncated or undecodable data
     ├── ArchiveError          a docker-archive, OCI layout or tarball that is malformed
     ├── StoreError            the store itself is unusable (locked, damaged)
     ├── DockerfileError       a Dockerfile that does not parse (file, line, column)
     ├── BuildError            a build step failed
     ├── ContainerError        the runtime could not run a process
     └── RegistryError         a registry refused, failed or lied
"""

from __future__ import annotations


class LayerlabError(Exception):
    """Base of every error the engine raises on purpose."""

    exit_code = 1

    def one_line(self) -> str:
        """The message a front end prints: a single line, no traceback."""
        text = str(self) or type(self).__name__
        return " ".join(text.split("\n")[0].split()) if "\n" in text else text


class UsageError(LayerlabError):
    exit_code = 2


class InvalidReference(LayerlabError):
    pass


class NotFound(LayerlabError):
    pass


class Conflict(LayerlabError):
    pass


class DigestMismatch(LayerlabError):
    def __init__(self, what: str, expected: str, actual: str):
        super().__init__(f"{what}: digest mismatch: expected {expected}, got {actual}")
        self.what = what
        self.expected = expected
        self.actual = actual


class LayerError(LayerlabError):
    pass


class UnsafeLayer(LayerError):
    pass


class LayerTooLarge(LayerError):
    pass


class CorruptLayer(LayerError):
    pass


class ArchiveError(LayerlabError):
    pass


class StoreError(LayerlabError):
    pass


class DockerfileError(LayerlabError):
    """A Dockerfile problem at a position; ``line`` and ``column`` are 1-based."""

    def __init__(self, message: str, *, filename: str = "Dockerfile", line: int = 0,
                 column: int = 0, source_line: str | None = None):
        self.message = message
        self.filename = filename
        self.line = line
        self.column = column
        self.source_line = source_line
        super().__init__(self.one_line())

    def one_line(self) -> str:
        where = self.filename
        if self.line:
            where += f":{self.line}"
            if self.column:
                where += f":{self.column}"
        return f"{where}: {self.message}"


class BuildError(LayerlabError):
    pass


class ContainerError(LayerlabError):
    pass


class RegistryError(LayerlabError):
    pass
