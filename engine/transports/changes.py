"""Dockerfile-style config changes for ``import --change`` (and ``commit``-like uses).

Supported: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, WORKDIR, VOLUME,
STOPSIGNAL, ONBUILD, as ``docker import --change`` supports them.
"""

from __future__ import annotations

import json
import shlex
from typing import Any, Sequence

from layerlab.engine.errors import UsageError

ALLOWED = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "USER", "WORKDIR", "VOLUME", "STOPSIGNAL", "ONBUILD")


def _json_or_shell(rest: str) -> list[str]:
    """Exec form ``["a","b"]`` as is; shell form wrapped in ``/bin/sh -c``, as Docker does."""
    if rest.startswith("["):
        try:
            value = json.loads(rest)
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    return ["/bin/sh", "-c", rest]


def _pairs(instruction: str, rest: str) -> list[tuple[str, str]]:
    words = shlex.split(rest)
    if not words:
        raise UsageError(f"{instruction} requires at least one argument")
    if "=" not in words[0]:
        # The legacy form: ENV KEY value with spaces
        key, _, value = rest.strip().partition(" ")
        return [(key, value.strip())]
    pairs = []
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise UsageError(f"{instruction}: expected KEY=VALUE, got {word!r}")
        pairs.append((key, value))
    return pairs


def apply_change(config: dict[str, Any], change: str) -> None:
    """Apply one change line to a container config dict (the image config's ``config``)."""
    text = change.strip()
    instruction, _, rest = text.partition(" ")
    instruction = instruction.upper()
    rest = rest.strip()
    if instruction not in ALLOWED:
        raise UsageError(f"{instruction or change!r} is not a valid change command (allowed: {', '.join(ALLOWED)})")
    if instruction != "ONBUILD" and not rest:
        raise UsageError(f"{instruction} requires an argument")
    if instruction == "CMD":
        config["Cmd"] = _json_or_shell(rest)
    elif instruction == "ENTRYPOINT":
        config["Entrypoint"] = _json_or_shell(rest)
    elif instruction == "ENV":
        env = [e for e in config.get("Env") or []]
        for key, value in _pairs("ENV", rest):
            env = [e for e in env if e.partition("=")[0] != key] + [f"{key}={value}"]
        config["Env"] = env
    elif instruction == "LABEL":
        labels = dict(config.get("Labels") or {})
        labels.update(_pairs("LABEL", rest))
        config["Labels"] = labels
    elif instruction == "EXPOSE":
        ports = dict(config.get("ExposedPorts") or {})
        for port in rest.split():
            ports[port if "/" in port else f"{port}/tcp"] = {}
        config["ExposedPorts"] = ports
    elif instruction == "VOLUME":
        volumes = dict(config.get("Volumes") or {})
        paths = json.loads(rest) if rest.startswith("[") else rest.split()
        for path in paths:
            volumes[path] = {}
        config["Volumes"] = volumes
    elif instruction == "USER":
        config["User"] = rest
    elif instruction == "WORKDIR":
        config["WorkingDir"] = rest
    elif instruction == "STOPSIGNAL":
        config["StopSignal"] = rest
    elif instruction == "ONBUILD":
        if not rest:
            raise UsageError("ONBUILD requires an instruction")
        config["OnBuild"] = list(config.get("OnBuild") or []) + [rest]


def apply_changes(config: dict[str, Any], changes: Sequence[str]) -> dict[str, Any]:
    for change in changes:
        apply_change(config, change)
    return config
