"""push and pull through a local registry: layerlab vs skopeo copy vs docker, same image, same run.

    python bench/registry.py [--runs 3] [--quick] [--workdir DIR] [--json FILE] [push] [pull]

The image: 10 layers, 200 MB of layer data (``--quick``: 20 MB), half random,
half repeated text, deterministic. The registry is Debian's ``docker-registry``
on 127.0.0.1 with its storage in the work directory.

- push: every run goes to a fresh, empty registry (started untimed), so no
  blob is skipped or mounted. layerlab from a store holding the image with
  gzip layers (as a pull leaves it), and again from one holding it
  uncompressed (as a load or a build leaves it: it compresses first; what
  it remembers about earlier compressions is dropped before every run);
  skopeo from an OCI layout with the same gzip layers; docker from its own
  store (it compresses on every push).
- pull: one registry, seeded untimed. layerlab into an empty store; skopeo
  into an empty OCI layout; docker after ``docker rmi`` (it also unpacks).

Docker's work happens in its daemon, so its rows have no peak RSS. Only the
tags this run made (unique names) are removed from docker afterwards.
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (  # noqa: E402
    BenchError, Measure, Options, Scenario, Unavailable, command, docker_ready, find_program, layerlab, python_env,
    run_checked, script_main, synthetic_image,
)

REPOSITORY = "bench/registry"
SEED = 20240102


class Registries:
    """One ``docker-registry`` at a time under ``work``; ``fresh()`` replaces it with an empty one."""

    def __init__(self, work: Path) -> None:
        self.work, self.count, self.current = work, 0, None

    def fresh(self):
        from tests.registry.servers import Registry

        self.stop()
        self.count += 1
        self.current = Registry(self.work / f"registry-{self.count}").start()
        return self.current

    def reference(self, tag: object) -> str:
        return f"{self.current.host}/{REPOSITORY}:{tag}"

    def stop(self) -> None:
        if self.current is not None:
            self.current.stop()
            shutil.rmtree(self.current.workdir, ignore_errors=True)
            self.current = None


class RegistryData:
    """The image in a gzip-layer store, a plain-layer store, an OCI layout and a docker-archive; made once."""

    def __init__(self, work: Path, megabytes: int, layers: int) -> None:
        self.work, self.megabytes, self.layers = work, megabytes, layers
        self.gzip_root, self.plain_root = work / "store-gzip", work / "store-plain"
        self.layout, self.archive = work / "layout", work / "image.tar"
        # docker's daemon is shared: a name no one else uses, removed at the end.
        self.tag = f"layerlab-bench-registry-{uuid.uuid4().hex[:12]}:latest"
        self.facts: dict = {}
        self.image_id = ""

    def make(self) -> dict:
        if self.facts:
            return self.facts
        if not find_program("docker-registry"):
            raise Unavailable("docker-registry is not installed")
        from layerlab.engine.store import Store
        from layerlab.engine.transports.docker_archive import write_docker_archive
        from layerlab.engine.transports.memory import ConfigImage
        from layerlab.engine.transports.oci_layout import write_oci_layout
        from tests.registry.images import GzipLayer

        self.work.mkdir(parents=True, exist_ok=True)
        plain = synthetic_image(self.megabytes * 1_000_000, self.layers, seed=SEED)
        packed = ConfigImage(plain.config, tuple(
            GzipLayer(gzip.compress(layer.data, compresslevel=6, mtime=0), layer.diff_id)
            for layer in plain.image_layers))
        with Store.open(self.gzip_root) as store:
            stored = store.put_image(packed, tags=[self.tag])
            write_oci_layout([(stored, [self.tag])], str(self.layout))
        with Store.open(self.plain_root) as store:
            store.put_image(plain, tags=[self.tag])
        with open(self.archive, "wb") as out:
            write_docker_archive([(plain, [self.tag])], out)
        self.image_id = str(plain.config_digest)
        self.facts = {"layers": self.layers, "layer_bytes": sum(layer.size for layer in plain.image_layers),
                      "gzip_bytes": sum(layer.size for layer in packed.image_layers)}
        return self.facts

    def layout_reference(self) -> str:
        import json

        index = json.loads((self.layout / "index.json").read_text())
        names = [m.get("annotations", {}).get("org.opencontainers.image.ref.name") for m in index["manifests"]]
        return f"oci:{self.layout}:{next(name for name in names if name)}"


class DockerTags:
    """Names this run gave an image in docker; ``remove()`` untags them, so the image goes with its last one."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def load(self, archive: Path, tag: str) -> None:
        run_checked(["docker", "load", "-q", "-i", archive])
        self.names.append(tag)

    def tag(self, source: str, name: str) -> None:
        run_checked(["docker", "tag", source, name])
        self.names.append(name)

    def remove(self) -> None:
        for name in reversed(self.names):
            subprocess.run(["docker", "rmi", name], capture_output=True)
        self.names.clear()


def scenarios(options: Options) -> list[Scenario]:
    megabytes = 20 if options.quick else 200
    data = RegistryData(options.workdir / f"registry-{megabytes}", megabytes, 10)
    registries = Registries(data.work / "registries")
    docker_tags = DockerTags()
    docker_here = bool(find_program("docker")) and docker_ready()
    env = python_env()

    def on_fresh_registry(then=None):
        def prepare(n: int) -> None:
            registries.fresh()
            if then:
                then(n)
        return prepare

    def push_measures() -> list[Measure]:
        def tag_in(root: Path):
            return lambda n: run_checked(layerlab(root, "tag", data.tag, registries.reference(n)), env=env)

        def forget_compressions(n: int) -> None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{data.plain_root / 'registry.db'}{suffix}").unlink(missing_ok=True)
            tag_in(data.plain_root)(n)

        def push(root: Path):
            return command(lambda n: layerlab(root, "push", "-q", registries.reference(n)), env=env)

        measures = [
            Measure("layerlab push (gzip layers stored)", "layerlab", push(data.gzip_root),
                    prepare=on_fresh_registry(tag_in(data.gzip_root))),
            Measure("layerlab push (compress first)", "layerlab", push(data.plain_root),
                    prepare=on_fresh_registry(forget_compressions)),
            Measure("skopeo copy oci: docker://", "peer",
                    command(lambda n: ["skopeo", "copy", "-q", "--dest-tls-verify=false", data.layout_reference(),
                                       f"docker://{registries.reference(n)}"]),
                    prepare=on_fresh_registry(), needs=("skopeo",)),
        ]
        if docker_here:
            docker_tags.load(data.archive, data.tag)
            measures.append(Measure(
                "docker push", "peer", command(lambda n: ["docker", "push", registries.reference(n)]),
                prepare=on_fresh_registry(lambda n: docker_tags.tag(data.tag, registries.reference(n))), rss=False))
        return measures

    def pull_measures() -> list[Measure]:
        registries.fresh()
        run_checked(layerlab(data.gzip_root, "tag", data.tag, registries.reference("pull")), env=env)
        run_checked(layerlab(data.gzip_root, "push", "-q", registries.reference("pull")), env=env)
        reference = registries.reference("pull")
        pull_root, pull_layout = data.work / "pull-root", data.work / "pull-layout"
        measures = [
            Measure("layerlab pull", "layerlab", command(layerlab(pull_root, "pull", "-q", reference), env=env),
                    prepare=lambda n: shutil.rmtree(pull_root, ignore_errors=True)),
            Measure("skopeo copy docker:// oci:", "peer",
                    command(["skopeo", "copy", "-q", "--src-tls-verify=false", f"docker://{reference}",
                             f"oci:{pull_layout}:latest"]),
                    prepare=lambda n: shutil.rmtree(pull_layout, ignore_errors=True), needs=("skopeo",)),
        ]
        if docker_here:
            docker_tags.names.append(reference)

            def docker_absent(n: int) -> None:
                subprocess.run(["docker", "rmi", reference], capture_output=True)
                held = subprocess.run(["docker", "image", "inspect", data.image_id], capture_output=True)
                if held.returncode == 0:
                    raise BenchError(f"docker still holds image {data.image_id[:19]} under another name; "
                                     "a pull would download nothing")

            measures.append(Measure("docker pull", "peer", command(["docker", "pull", "-q", reference]),
                                    prepare=docker_absent, rss=False))
        return measures

    def cleanup() -> None:
        registries.stop()
        if docker_here:
            docker_tags.remove()
        for leftover in ("pull-root", "pull-layout", "registries"):
            shutil.rmtree(data.work / leftover, ignore_errors=True)

    description = f"{megabytes} MB, 10-layer image"
    return [
        Scenario("push", f"push of a {description} to a local registry", data.make, push_measures, cleanup),
        Scenario("pull", f"pull of a {description} from a local registry", data.make, pull_measures, cleanup),
    ]


if __name__ == "__main__":
    raise SystemExit(script_main(scenarios, __doc__))
