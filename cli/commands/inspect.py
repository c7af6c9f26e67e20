"""``inspect`` / ``image inspect``: JSON shaped like ``docker image inspect``."""

from __future__ import annotations

import json
import sys
from typing import Any

from layerlab.engine.errors import NotFound
from layerlab.engine.reference import Reference
from layerlab.cli.commands._image_group import add_both
from layerlab.cli.output import render_template


def register(subparsers) -> None:
    for parser in add_both(subparsers, "inspect", help="display detailed information on one or more images"):
        parser.add_argument("images", nargs="+", metavar="IMAGE")
        parser.add_argument("-f", "--format", help="format the output using a Go template")
        parser.set_defaults(func=inspect_command)


def inspect_data(image) -> dict[str, Any]:
    """One image as docker image inspect shows it."""
    config = image.config.data
    diff_ids = [str(d) for d in image.config.diff_ids]
    return {
        "Id": str(image.id),
        "RepoTags": [Reference.parse(t).familiar for t in image.tags],
        "RepoDigests": [Reference.parse(d, default_tag=None).familiar for d in image.repo_digests],
        "Parent": str(image.parent) if image.parent else "",
        "Comment": config.get("comment", ""),
        "Created": config.get("created", ""),
        "Container": config.get("container", ""),
        "ContainerConfig": config.get("container_config") or {},
        "DockerVersion": config.get("docker_version", ""),
        "Author": config.get("author", ""),
        "Config": config.get("config"),
        "Architecture": config.get("architecture", ""),
        **({"Variant": config["variant"]} if config.get("variant") else {}),
        "Os": config.get("os", ""),
        "Size": image.size,
        "VirtualSize": image.size,
        "GraphDriver": {"Data": None, "Name": "layerlab"},
        "RootFS": {"Type": (config.get("rootfs") or {}).get("type", "layers"), "Layers": diff_ids},
        "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
    }


def inspect_command(args, ctx) -> int:
    results, status = [], 0
    for name in args.images:
        try:
            results.append(inspect_data(ctx.store.image(name)))
        except NotFound as error:
            print(f"layerlab: {error.one_line()}", file=sys.stderr)
            status = 1
    if args.format:
        for data in results:
            sys.stdout.write(render_template(args.format, data) + "\n")
    else:
        sys.stdout.write(json.dumps(results, indent=4, ensure_ascii=False) + "\n")
    return status
