"""What a build in the app runs with: the Dockerfile, build args, target stage and ``--no-cache``.

``layerlab tui CONTEXT -f FILE --build-arg K=V --target STAGE --no-cache`` sets them at start;
the Options dialog (``o`` on Build) changes them while the app runs. A context may hold several
Dockerfiles (``sample_contexts/cache-order`` has ``Dockerfile.busting`` and
``Dockerfile.friendly``): ``dockerfile_candidates`` lists the ones to pick from.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Iterable

from layerlab.engine.api.key_values import key_values
from layerlab.engine.errors import UsageError
from layerlab.engine.record_type import record, replace

DEFAULT_DOCKERFILE = "Dockerfile"
# Names people give Dockerfiles: Dockerfile, Dockerfile.dev, app.Dockerfile, app.dockerfile, Containerfile.
_DOCKERFILE_NAME = re.compile(r"^((Dockerfile|Containerfile)(\..+)?|.+\.(Dockerfile|dockerfile|Containerfile))$")


@record(frozen=True)
class BuildOptions:
    dockerfile: str = DEFAULT_DOCKERFILE        # relative to the context, or an absolute path
    build_args: tuple[tuple[str, str], ...] = ()
    target: str = ""
    no_cache: bool = False

    def dockerfile_path(self, context: Path) -> Path:
        path = Path(self.dockerfile).expanduser()
        return path if path.is_absolute() else context / path

    def args(self) -> dict[str, str]:
        return dict(self.build_args)

    def args_text(self) -> str:
        """The build args as the dialog edits them: ``K=V K2='a b'``."""
        return " ".join(f"{name}={shlex.quote(value)}" for name, value in self.build_args)

    def flags(self, *, with_file: bool = True) -> str:
        """The options as ``build`` flags (empty for the defaults): ``-f Dockerfile.busting --no-cache``."""
        words = [] if self.dockerfile == DEFAULT_DOCKERFILE or not with_file else [f"-f {self.dockerfile}"]
        words += [f"--build-arg {name}={value}" for name, value in self.build_args]
        words += [f"--target {self.target}"] if self.target else []
        words += ["--no-cache"] if self.no_cache else []
        return " ".join(words)

    def with_changes(self, **changes) -> "BuildOptions":
        return replace(self, **changes)


def parse_build_args(items: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """``K=V`` items, as ``build --build-arg`` reads them (a bare ``K`` from the environment)."""
    return tuple(key_values(items, "--build-arg").items())


def parse_build_args_text(text: str) -> tuple[tuple[str, str], ...]:
    """The dialog's one line of args, split as a shell would: ``VERSION=1.1 GREETING='hi there'``."""
    try:
        words = shlex.split(text)
    except ValueError as error:
        raise UsageError(f"build args: {error}") from error
    return parse_build_args(words)


def dockerfile_candidates(context: Path) -> list[str]:
    """The Dockerfiles at the top of ``context``, by name (``Dockerfile`` first)."""
    try:
        names = [entry.name for entry in os.scandir(context) if entry.is_file() and _DOCKERFILE_NAME.match(entry.name)]
    except OSError:
        return []
    return sorted(names, key=lambda name: (name != DEFAULT_DOCKERFILE, name.lower()))


def options_for(context: Path | None, *, dockerfile: str | None = None, build_args: Iterable[str] = (),
                target: str = "", no_cache: bool = False) -> BuildOptions:
    """The options the command line asked for. ``-f`` names a file from here, as docker reads it, kept
    relative to the context when it lies inside it; with no ``-f`` a context without a ``Dockerfile``
    opens its only (or first) other Dockerfile."""
    chosen = DEFAULT_DOCKERFILE
    if dockerfile:
        path = Path(dockerfile).expanduser()
        if not path.is_absolute() and not path.exists() and context is not None and (context / path).is_file():
            path = context / path
        if not path.is_file():
            raise UsageError(f"-f {dockerfile}: no such file")
        path = path.resolve()
        chosen = str(path.relative_to(context)) if context is not None and path.is_relative_to(context) \
            else str(path)
    elif context is not None and not (context / DEFAULT_DOCKERFILE).is_file():
        candidates = dockerfile_candidates(context)
        chosen = candidates[0] if candidates else DEFAULT_DOCKERFILE
    return BuildOptions(chosen, parse_build_args(build_args), target, no_cache)


__all__ = ["BuildOptions", "DEFAULT_DOCKERFILE", "dockerfile_candidates", "options_for", "parse_build_args",
           "parse_build_args_text"]
