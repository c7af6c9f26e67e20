"""Lint that teaches caching: each warning says what the pattern costs in cache hits or image size.

Rules (ids in brackets):

- [copy-all-before-install] ``COPY . .`` before a dependency install in the same stage
- [apt-update-alone] ``apt-get update`` in a RUN without an install
- [package-cache-left] package lists or caches left in the layer
- [consecutive-run] RUN instructions in a row that could be one
- [add-instead-of-copy] ADD of plain local files
- [unpinned-base] a base image without a tag, or tagged ``latest``
"""

from __future__ import annotations

import re

from layerlab.engine.dockerfile.args import resolve_global_args
from layerlab.engine.dockerfile.instructions import Add, Copy, Dockerfile, Expander, Run, Stage
from layerlab.engine.errors import DockerfileError
from layerlab.engine.record_type import record

_INSTALL = re.compile(
    r"\b(npm (install|ci|i)\b|yarn( install)?\b|pnpm (install|i)\b|pip3? install|poetry install|pipenv install"
    r"|bundle install|go mod download|go build|cargo (build|fetch)|composer install|mvn |gradle |dotnet restore"
    r"|apt-get install|apt install|apk add|yum install|dnf install|gem install|uv sync|uv pip install)")
_APT_UPDATE = re.compile(r"\bapt(-get)? update\b")
_APT_INSTALL = re.compile(r"\bapt(-get)? (install|upgrade|dist-upgrade|full-upgrade)\b")
_APT_LISTS_REMOVED = re.compile(r"rm\s+(-\w+\s+)*[^&;|]*/var/lib/apt/lists")
_ARCHIVE = re.compile(r"\.(tar|tar\.gz|tgz|tar\.bz2|tbz2?|tar\.xz|txz|tar\.zst|tzst)$", re.IGNORECASE)
_REMOTE = re.compile(r"^(https?://|git@|git://)|\.git(#.*)?$")


@record(frozen=True)
class LintWarning:
    line: int
    rule: str
    message: str

    def format(self, filename: str) -> str:
        return f"{filename}:{self.line}: warning: {self.message} [{self.rule}]"


def _run_text(run: Run) -> str:
    parts = list(run.command)
    parts.extend(h.content for h in run.heredocs)
    return " ".join(parts)


def _is_copy_everything(command: Copy | Add) -> bool:
    return not getattr(command, "from_", "") and any(s in (".", "./", "*") for s in command.sources)


def _stage_warnings(stage: Stage) -> list[LintWarning]:
    found: list[LintWarning] = []
    copy_all: Copy | Add | None = None
    previous_run: Run | None = None
    run_streak_start: Run | None = None
    for command in stage.commands:
        if isinstance(command, (Copy, Add)) and _is_copy_everything(command) and copy_all is None:
            copy_all = command
        if isinstance(command, Run):
            text = _run_text(command)
            install = _INSTALL.search(text)
            if install and copy_all is not None:
                found.append(LintWarning(copy_all.line, "copy-all-before-install",
                                         f"'{copy_all.original.strip()}' comes before '{install.group(0).strip()}' "
                                         f"on line {command.line}: any change to any file in the context "
                                         "invalidates the cached install; copy the dependency manifests first, "
                                         "install, then copy the rest."))
                copy_all = None  # one warning per copy is enough
            if _APT_UPDATE.search(text) and not _APT_INSTALL.search(text):
                found.append(LintWarning(command.line, "apt-update-alone",
                                         "apt-get update alone in its RUN is cached as its own layer, so a later "
                                         "install can use a stale package index; update and install in the same "
                                         "RUN."))
            found.extend(_package_cache_warnings(command, text))
            if previous_run is not None and _mergeable(previous_run, command):
                run_streak_start = run_streak_start or previous_run
            else:
                found.extend(_streak_warning(run_streak_start, previous_run))
                run_streak_start = None
            previous_run = command
        else:
            found.extend(_streak_warning(run_streak_start, previous_run))
            run_streak_start = None
            previous_run = None
        if isinstance(command, Add) and command.sources and not command.source_contents:
            if all(not _ARCHIVE.search(s) and not _REMOTE.search(s) for s in command.sources):
                found.append(LintWarning(command.line, "add-instead-of-copy",
                                         "ADD of plain local files: ADD also downloads URLs and unpacks archives, "
                                         "so what lands in the layer is harder to predict; COPY does only the copy."))
    found.extend(_streak_warning(run_streak_start, previous_run))
    return found


def _mergeable(first: Run, second: Run) -> bool:
    # Only plain shell-form RUNs with the same flags can simply be joined with &&.
    return (first.shell_form and second.shell_form and not first.heredocs and not second.heredocs
            and first.mounts == second.mounts and first.network == second.network
            and first.security == second.security)


def _streak_warning(start: Run | None, end: Run | None) -> list[LintWarning]:
    if start is None or end is None or start is end:
        return []
    return [LintWarning(start.line, "consecutive-run",
                        f"RUN instructions on lines {start.line}-{end.end_line} could be one: each RUN is a separate "
                        "layer and cache step, and files removed by a later RUN still take space in the earlier "
                        "layer.")]


def _package_cache_warnings(run: Run, text: str) -> list[LintWarning]:
    found = []
    cache_mounted = any("type=cache" in mount for mount in run.mounts)
    if _APT_INSTALL.search(text) and not _APT_LISTS_REMOVED.search(text) and not cache_mounted:
        found.append(LintWarning(run.line, "package-cache-left",
                                 "apt package lists stay in this layer (tens of MB in every image and pull); "
                                 "end the same RUN with 'rm -rf /var/lib/apt/lists/*'."))
    if re.search(r"\bapk add\b", text) and "--no-cache" not in text:
        found.append(LintWarning(run.line, "package-cache-left",
                                 "apk's index stays in this layer and grows the image; use 'apk add --no-cache'."))
    if re.search(r"\bpip3? install\b", text) and "--no-cache-dir" not in text and not run.mounts:
        found.append(LintWarning(run.line, "package-cache-left",
                                 "pip's download cache stays in this layer and grows the image; add "
                                 "'--no-cache-dir' or use a cache mount."))
    if re.search(r"\b(yum|dnf) install\b", text) and not re.search(r"\b(yum|dnf) clean all\b", text):
        found.append(LintWarning(run.line, "package-cache-left",
                                 "yum/dnf metadata stays in this layer and grows the image; end the same RUN with "
                                 "'yum clean all' (or 'dnf clean all')."))
    return found


def _base_warnings(dockerfile: Dockerfile) -> list[LintWarning]:
    found = []
    try:
        global_args = resolve_global_args(dockerfile.meta_args, {}, escape_token=dockerfile.escape_token)
    except DockerfileError:  # a default that cannot expand only means some tags cannot be judged
        global_args = {}
    expander = Expander(global_args, dockerfile.escape_token, dockerfile.filename)
    earlier: set[str] = set()
    for stage in dockerfile.stages:
        try:
            base = expander.word(stage.base_name, stage.position)
        except DockerfileError:
            base = stage.base_name
        named_earlier = base.lower() in earlier
        if stage.name:
            earlier.add(stage.name)
        if named_earlier or base == "scratch" or "$" in base or not base:
            continue
        if "@" in base:
            continue  # pinned by digest
        last = base.rsplit("/", 1)[-1]
        tag = last.split(":", 1)[1] if ":" in last else ""
        if tag in ("", "latest"):
            what = "has no tag, so it means 'latest'" if not tag else "is tagged 'latest'"
            found.append(LintWarning(stage.line, "unpinned-base",
                                     f"base image '{base}' {what}, which moves: the same Dockerfile builds "
                                     "different images, and a new base misses the cache for every step; pin a "
                                     "version tag or a digest."))
    return found


def lint(dockerfile: Dockerfile) -> list[LintWarning]:
    """All warnings, in line order."""
    found = _base_warnings(dockerfile)
    for stage in dockerfile.stages:
        found.extend(_stage_warnings(stage))
    return sorted(found, key=lambda w: (w.line, w.rule))
