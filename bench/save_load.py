"""save and load: layerlab vs docker vs skopeo on a deterministic 200 MB, 10-layer image.

    python bench/save_load.py [--runs 3] [--quick] [--workdir DIR] [--json FILE]

Every run starts from the same state. load: the image is absent (a fresh
layerlab root; ``docker rmi`` first; a fresh OCI layout for ``skopeo copy
docker-archive: oci:``). save: it is present (layerlab and docker loaded it
once, untimed; skopeo copies from an OCI layout of the same image). The
floors: ``sha256sum`` of the archive (load must read and hash every byte)
and ``cp`` of it (save must write every byte).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (  # noqa: E402
    Measure, Options, Scenario, command, docker_ready, find_program, layerlab, python_env, run_checked,
    script_main, synthetic_image,
)

TAG = "layerlab-bench-saveload:latest"


class ImageFiles:
    """The image as a docker-archive, an OCI layout and a loaded layerlab store; made once, shared."""

    def __init__(self, work: Path, total_bytes: int, layers: int) -> None:
        self.work, self.total_bytes, self.layers = work, total_bytes, layers
        self.archive, self.layout, self.store = work / "image.tar", work / "layout", work / "store"
        self.facts: dict = {}

    def make(self) -> dict:
        if self.facts:
            return self.facts
        from layerlab.engine.transports.docker_archive import write_docker_archive
        from layerlab.engine.transports.oci_layout import write_oci_layout

        self.work.mkdir(parents=True, exist_ok=True)
        image = synthetic_image(self.total_bytes, self.layers)
        with open(self.archive, "wb") as out:
            write_docker_archive([(image, [TAG])], out)
        write_oci_layout([(image, [TAG])], self.layout)
        del image
        run_checked(layerlab(self.store, "load", "-q", "-i", self.archive), env=python_env())
        self.facts = {"layers": self.layers, "archive_bytes": self.archive.stat().st_size}
        return self.facts


def docker_rmi() -> None:
    if find_program("docker"):
        subprocess.run(["docker", "rmi", "-f", TAG], capture_output=True)


def scenarios(options: Options) -> list[Scenario]:
    megabytes = 20 if options.quick else 200
    files = ImageFiles(options.workdir / f"saveload-{megabytes}", megabytes * 1_000_000, 10)
    work = files.work
    docker_here = bool(find_program("docker")) and docker_ready()

    def fresh(path: Path):
        def prepare(n: int) -> None:
            shutil.rmtree(path, ignore_errors=True)
            Path(f"{path}.tar").unlink(missing_ok=True)
        return prepare

    def load_measures() -> list[Measure]:
        measures = [
            Measure("layerlab load", "layerlab", command(layerlab(work / "root", "load", "-q", "-i", files.archive),
                                                         env=python_env()), prepare=fresh(work / "root")),
            Measure("skopeo copy docker-archive: oci:", "peer",
                    command(["skopeo", "copy", "-q", f"docker-archive:{files.archive}", f"oci:{work / 'oci-out'}:x"]),
                    prepare=fresh(work / "oci-out"), needs=("skopeo",)),
            Measure("sha256sum of the archive", "floor", command(["sha256sum", files.archive]), needs=("sha256sum",)),
        ]
        if docker_here:
            measures.insert(1, Measure("docker load", "peer", command(["docker", "load", "-q", "-i", files.archive]),
                                       prepare=lambda n: docker_rmi(), rss=False))
        return measures

    def save_measures() -> list[Measure]:
        out = work / "out.tar"
        drop = lambda n: out.unlink(missing_ok=True)  # noqa: E731
        measures = [
            Measure("layerlab save", "layerlab", command(layerlab(files.store, "save", "-o", out, TAG), env=python_env()),
                    prepare=drop),
            Measure("skopeo copy oci: docker-archive:", "peer",
                    command(["skopeo", "copy", "-q", f"oci:{files.layout}:latest", f"docker-archive:{out}:{TAG}"]),
                    prepare=drop, needs=("skopeo",)),
            Measure("cp of the archive", "floor", command(["cp", files.archive, out]), prepare=drop),
        ]
        if docker_here:
            subprocess.run(["docker", "load", "-q", "-i", str(files.archive)], capture_output=True, check=True)
            measures.insert(1, Measure("docker save", "peer", command(["docker", "save", "-o", out, TAG]),
                                       prepare=drop, rss=False))
        return measures

    def cleanup() -> None:
        docker_rmi()
        for leftover in ("root", "oci-out", "out.tar"):
            path = work / leftover
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)

    description = f"{megabytes} MB, 10-layer image"
    return [
        Scenario("load", f"load of a {description} from a docker-archive", files.make, load_measures, cleanup),
        Scenario("save", f"save of a {description} to a docker-archive", files.make, save_measures, cleanup),
    ]


if __name__ == "__main__":
    raise SystemExit(script_main(scenarios, __doc__))
