"""Run ``run_in_layers`` as whoever starts this script; report the outcome as JSON on stdout.

Usage: python unprivileged_run.py REPO REQUEST_JSON. The tests start it as an
unprivileged user, so it must need nothing but the standard library and the
engine.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> None:
    repo, request = sys.argv[1], json.loads(sys.argv[2])
    sys.path.insert(0, repo)
    from layerlab.engine.runtime import MountSpec, ProcessSpec, default_runtime, run_in_layers

    mounts = [MountSpec(**{**mount, "source": Path(mount["source"]) if mount.get("source") else None})
              for mount in request.pop("mounts", [])]
    spec = ProcessSpec(mounts=mounts, **request.pop("spec"))
    runtime = default_runtime()
    lines: list[list[str]] = []
    result, upper = run_in_layers([Path(p) for p in request["lowers"]], spec, Path(request["workspace"]),
                                  runtime=runtime,
                                  on_output=lambda stream, line: lines.append([stream, line.decode()]))
    print(json.dumps({"runtime": runtime.name, "exit_code": result.exit_code, "tail": result.output_tail,
                      "lines": lines, "upper": str(upper)}))


if __name__ == "__main__":
    main()
