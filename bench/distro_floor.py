"""The floor of an edit rebuild: the compile RUN run directly by runc, plus writing the edited file.

The root filesystem is prepared once, untimed: the base image's layers, then
what the Dockerfile's steps before the edited COPY put there (``/app``, the
requirements file, the RUN's files, ``src/``). Before each run the compiled
output of the previous one is removed, so every run compiles what a rebuild
compiles. The timed part writes the edited file into the root filesystem and
runs the RUN's command with ``runc run`` (no network namespace set up beyond
loopback, as ``--network none``). That is the least any builder can spend on
the edit: no context hashing, no layer tar, no snapshot, no image record.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from bench.harness import Measure, command, find_program, run_checked, shell

if TYPE_CHECKING:
    from bench.distro_build import DistroData

WRITE_THEN_RUN = 'printf "%s" "$1" > "$2" && exec "$3" run --bundle "$4" "$5"'


class RuncFloor:
    def __init__(self, data: DistroData, scenario: str) -> None:
        self.data = data
        self.bundle = data.work / f"floor-{scenario}"
        self.rootfs = self.bundle / "rootfs"
        self.ready = False

    def measure(self) -> Measure:
        def prepare(n: int) -> None:
            if not self.ready:
                self._prepare_rootfs()
                self.ready = True
            shutil.rmtree(self.rootfs / "app" / "src" / "__pycache__", ignore_errors=True)

        def argv(n: int) -> list[str]:
            content = self.data.original.decode() + f"EDIT_MARK = 'floor-{n}-{uuid.uuid4().hex}'\n"
            target = self.rootfs / "app" / "src" / self.data.victim.name
            return shell(WRITE_THEN_RUN, content, target, find_program("runc") or "runc", self.bundle,
                         f"layerlab-bench-floor-{uuid.uuid4().hex[:12]}")

        return Measure("write the edit + runc run of the RUN", "floor", command(argv), prepare=prepare,
                       needs=("runc",))

    def _prepare_rootfs(self) -> None:
        shutil.rmtree(self.bundle, ignore_errors=True)
        self.rootfs.mkdir(parents=True)
        with tarfile.open(self.data.archive) as archive:
            manifest = json.load(archive.extractfile("manifest.json"))
            for layer in manifest[0]["Layers"]:
                # the base's layers hold no whiteouts (an import, a bootstrap): plain extraction is the image
                blob = archive.extractfile(layer)
                subprocess.run(["tar", "-C", str(self.rootfs), "--numeric-owner", "-xpf", "-"], input=blob.read(),
                               check=True)
        app = self.rootfs / "app"
        app.mkdir(exist_ok=True)
        shutil.copy2(self.data.context / "requirements.txt", app / "requirements.txt")
        self._write_config(self.data.write_files)
        run_checked([find_program("runc") or "runc", "run", "--bundle", self.bundle,
                     f"layerlab-bench-floor-{uuid.uuid4().hex[:12]}"])
        shutil.copytree(self.data.context / "src", app / "src")
        self._write_config(self.data.compile)

    def _write_config(self, script: str) -> None:
        config = self.bundle / "config.json"
        config.unlink(missing_ok=True)
        run_checked([find_program("runc") or "runc", "spec", "--bundle", self.bundle])
        spec = json.loads(config.read_text())
        spec["process"].update(terminal=False, args=["/bin/sh", "-c", script], cwd="/app")
        spec["root"] = {"path": "rootfs", "readonly": False}
        config.write_text(json.dumps(spec))

    def close(self) -> None:
        shutil.rmtree(self.bundle, ignore_errors=True)
        self.ready = False
