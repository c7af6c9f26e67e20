"""Where a build reads from: the context (a directory, or a tar on stdin unpacked into scratch)
and the Dockerfile, with the ``.dockerignore`` matcher that goes with them."""

from __future__ import annotations

from pathlib import Path

from layerlab.engine.builder.request import BuildRequest
from layerlab.engine.dockerfile import load_dockerfile
from layerlab.engine.dockerfile.dockerignore import Matcher, SenderMatcher
from layerlab.engine.dockerfile.instructions import Dockerfile
from layerlab.engine.errors import BuildError, NotFound, UsageError
from layerlab.engine.record_type import record


@record(frozen=True)
class BuildSource:
    context_root: Path
    tar_context: bool               # the context came as a tar: no stat cache, no path identity
    matcher: Matcher                # a SenderMatcher under --semantics buildkit
    dockerfile: Dockerfile
    dockerfile_id: str              # names the Dockerfile in cache records (path, or ``-::name``)


def open_source(request: BuildRequest, workspace: Path) -> BuildSource:
    root, tar_context = _open_context(request, workspace)
    return _read_dockerfile(request, root, tar_context)


def _open_context(request: BuildRequest, workspace: Path) -> tuple[Path, bool]:
    if request.context_tar is not None:
        import tarfile  # only for a context on stdin

        root = workspace / "context"
        root.mkdir()
        try:
            with tarfile.open(fileobj=request.context_tar, mode="r|*") as archive:
                archive.extractall(root, filter="data")
        except (tarfile.TarError, OSError) as error:
            raise BuildError(f"build context from stdin: not a usable tar: {error}") from None
        return root, True
    if request.context_dir is None:
        raise UsageError("no build context given")
    root = Path(request.context_dir).resolve()
    if not root.is_dir():
        raise NotFound(f"{request.context_dir}: build context is not a directory")
    return root, False


def _read_dockerfile(request: BuildRequest, context_root: Path, tar_context: bool) -> BuildSource:
    if request.dockerfile_text is not None:
        text, name = request.dockerfile_text, "Dockerfile"
        identity = f"{'-' if tar_context else context_root}::-"
        dockerfile_path = None
    else:
        # Relative to the context, always: a Dockerfile that happens to sit in the current
        # directory must not stand in for the context's (the command line makes -f absolute).
        path = Path(request.dockerfile)
        if not path.is_absolute():
            path = context_root / path
        if not path.is_file():
            raise NotFound(f"{request.dockerfile}: no such Dockerfile")
        text, name = path.read_text(encoding="utf-8", errors="surrogateescape"), path.name
        identity = f"-::{name}" if tar_context else str(path)
        dockerfile_path = path
    matcher = Matcher.for_context(context_root, dockerfile_path)
    if request.semantics == "buildkit":
        matcher = SenderMatcher(matcher, context_root)
    return BuildSource(context_root, tar_context, matcher, load_dockerfile(text, name), identity)
