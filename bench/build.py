"""build-cold, build-noop, build-one-file: layerlab vs docker (classic builder) vs buildah.

    python bench/build.py [--runs 3] [--quick] [--workdir DIR] [--json FILE] [SCENARIO ...]

The context is deterministic (``bench/context_hash.py``'s generator: 20,000
files, ~200 MB; ``--quick``: 1,000 files, 10 MB) and the Dockerfile, kept
outside it, is ``FROM base`` / ``COPY . /ctx`` / ``RUN ls /ctx | wc -l > /count``.
Every builder starts from the same busybox image: layerlab's bootstrap, saved
once and loaded into docker and buildah under a tag unique to this run.

- build-cold: nothing cached (layerlab: a fresh store root holding only the
  base, so the context's stat cache is empty too; docker and buildah:
  ``--no-cache``);
- build-noop: a rebuild with nothing changed, after one untimed build;
- build-one-file: a rebuild after one file's content changed (new content
  every run, written untimed).

Docker runs with ``DOCKER_BUILDKIT=0`` (layerlab builds as the classic builder
does); buildah with ``--layers`` (its step cache) and runc. The distro
scenarios (``bench/distro_build.py``) add BuildKit through the same classes. Docker's work
happens in its daemon, so its row has no peak RSS. Each scenario removes what
it made: the store roots, and in docker and buildah the images it built (by
the IDs their ``--iidfile`` reported) and its base tag, nothing else.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.context_hash import generate  # noqa: E402
from bench.harness import (  # noqa: E402
    Measure, Options, Scenario, at_end, command, docker_env, docker_ready, find_program, layerlab, python_env,
    run_checked, script_main, tree_size,
)

DOCKERFILE = "FROM {base}\nCOPY . /ctx\nRUN ls /ctx | wc -l > /count\n"
# The docker.io package's own client: a newer client first on PATH refuses BuildKit without buildx.
DOCKER = "/usr/bin/docker" if os.access("/usr/bin/docker", os.X_OK) else "docker"
PEER_NAMES = {"docker": "docker build (DOCKER_BUILDKIT=0)", "buildkit": "docker build (BuildKit)",
              "buildah": "buildah bud --layers"}
# Files younger than this are never trusted from layerlab's stat cache (racy timestamps).
RACY_SECONDS = 2.5


class BuildData:
    """The context, the base image (a layerlab root and a docker-archive of it); made once, shared."""

    def __init__(self, work: Path, files: int, megabytes: int) -> None:
        self.work, self.files, self.megabytes = work, files, megabytes
        self.context = work / "context"
        self.victim = self.context / "d000" / "f00.bin"
        self.base_root, self.archive = work / "base-root", work / "base.tar"
        self.dockerfile = work / "Dockerfile"
        # Shared daemons (docker, buildah's storage): our names are unique, and only they are removed.
        self.base = f"layerlab-bench-build-base-{uuid.uuid4().hex[:12]}:latest"
        self.tag = f"layerlab-bench-build-{uuid.uuid4().hex[:12]}:latest"
        self.facts: dict = {}
        self.original = b""
        # docker and buildah hold the base from its first load to the end of the run: loaded once, untimed
        self.bases_loaded: set[str] = set()

    def load_base(self, program: str) -> None:
        if program in self.bases_loaded:
            return
        if program == "docker":
            run_checked([DOCKER, "load", "-q", "-i", self.archive])
            # untags only: the image ID may be another tag's too
            at_end(lambda: subprocess.run([DOCKER, "rmi", self.base], capture_output=True))
        else:
            # The archive's only tag is our unique name; buildah keeps it (as localhost/NAME).
            run_checked(["buildah", "pull", "-q", f"docker-archive:{self.archive}"])
            at_end(lambda: subprocess.run(["buildah", "rmi", f"localhost/{self.base}"], capture_output=True))
        self.bases_loaded.add(program)

    def make(self) -> dict:
        if self.facts:
            return self.facts
        self.work.mkdir(parents=True, exist_ok=True)
        generate(self.context, self.files, self.megabytes)
        (self.context / ".dockerignore").write_text(".generated\n")
        self.original = self.victim.read_bytes()
        run_checked(layerlab(self.base_root, "bootstrap", "busybox"), env=python_env())
        run_checked(layerlab(self.base_root, "tag", "busybox:latest", self.base), env=python_env())
        run_checked(layerlab(self.base_root, "save", "-o", self.archive, self.base), env=python_env())
        self.dockerfile.write_text(DOCKERFILE.format(base=self.base))
        age = time.time() - (self.context / ".dockerignore").stat().st_mtime
        time.sleep(max(0.0, RACY_SECONDS - age))
        count, total = tree_size(self.context)
        self.facts = {"files": count, "bytes": total}
        return self.facts

    def restore_victim(self) -> None:
        if self.original and self.victim.read_bytes() != self.original:
            self.victim.write_bytes(self.original)

    def edit_victim(self, tool: str, n: int) -> None:
        self.victim.write_bytes(self.original + f"edit {tool} {n} {uuid.uuid4().hex}\n".encode())


# Written once and never changed in place: blobs are named by their digest, snapshots are read-only lowers.
IMMUTABLE = ("blobs", "snapshots")


def copy_root(source: Path, target: Path) -> None:
    """A store root like ``source``: blobs and snapshots hard-linked (a 9,000-file base costs no copy), the
    metadata copied."""
    def link_or_copy(src: str, dst: str) -> str:
        if Path(src).relative_to(source).parts[0] in IMMUTABLE:
            os.link(src, dst)
            return dst
        return shutil.copy2(src, dst)

    shutil.copytree(source, target, symlinks=True, copy_function=link_or_copy)
    # copytree makes directories with our owner: a snapshot's directories keep theirs (root:staff ...)
    for dirpath, dirnames, _ in os.walk(source):
        for name in dirnames:
            st = os.lstat(os.path.join(dirpath, name))
            os.lchown(os.path.join(target, os.path.relpath(dirpath, source), name), st.st_uid, st.st_gid)


class LayerlabBuilds:
    """Store roots under ``work``: each starts as a copy of the base root (copied untimed)."""

    def __init__(self, data: BuildData, name: str) -> None:
        self.data, self.name, self.root = data, name, data.work / f"root-{name}"
        self.made: set[Path] = set()
        self.warm = False

    def fresh(self, run: int | None = None) -> None:
        """A root holding only the base: cold run ``run``'s own, else the one root warm runs share.

        Each cold run gets a root of its own, and all are deleted in ``close``: deleting the last
        run's root right before a timed one bills that run for it. An ext4 without a journal does not
        reuse an inode freed in the last minute (five while its inode table block is unwritten) and
        walks past each one, from the start of the group, for every file it creates there."""
        self.root = self.data.work / (f"root-{self.name}" if run is None else f"root-{self.name}-cold-{run}")
        shutil.rmtree(self.root, ignore_errors=True)
        copy_root(self.data.base_root, self.root)
        self.made.add(self.root)
        self.warm = False

    def argv(self, *flags: str) -> list[str]:
        return layerlab(self.root, "build", "-q", "--network", "none", *flags, "-t", "bench:latest",
                        "-f", self.data.dockerfile, self.data.context)

    def build(self, cold: bool = False) -> Measure:
        def prepare(n: int) -> None:
            if cold:
                self.fresh(n)
                return
            if not self.warm:
                self.fresh()
                self.data.restore_victim()
                run_checked(self.argv(), env=python_env())
                self.warm = True

        return Measure("layerlab build", "layerlab", command(lambda n: self.argv(), env=python_env()),
                       prepare=prepare)

    def close(self) -> None:
        for root in {*self.made, self.root}:
            shutil.rmtree(root, ignore_errors=True)
        self.made.clear()


class PeerBuilds:
    """docker (classic), BuildKit or buildah on a shared daemon/storage: our base tag, and images we built by ID."""

    def __init__(self, data: BuildData, kind: str, scenario: str) -> None:
        self.data, self.kind, self.scenario = data, kind, scenario
        self.program = "buildah" if kind == "buildah" else "docker"
        self.iids = data.work / f"iids-{kind}-{scenario}"
        self.warm = False

    @property
    def docker(self) -> bool:
        return self.program == "docker"

    def argv(self, n: int | str, *flags: str) -> list[str]:
        self.iids.mkdir(exist_ok=True)
        iidfile = self.iids / f"{n}"
        common = [*flags, "--iidfile", iidfile, "-t", self.data.tag, "-f", self.data.dockerfile, self.data.context]
        if self.kind == "docker":
            return [DOCKER, "build", "-q", "--network", "none", "--rm", *common]
        if self.kind == "buildkit":
            return [DOCKER, "build", "-q", "--network=none", *common]
        return ["buildah", "bud", "-q", "--layers", "--pull=false", "--runtime", "runc", "--network", "none", *common]

    def env(self) -> dict | None:
        if self.kind == "buildkit":
            return dict(os.environ, DOCKER_BUILDKIT="1")
        return docker_env() if self.docker else None

    def build(self, cold: bool = False) -> Measure:
        flags = ("--no-cache",) if cold else ()

        def prepare(n: int) -> None:
            self.data.load_base(self.program)
            if not cold and not self.warm:
                self.data.restore_victim()
                run_checked(self.argv("warm"), env=self.env())
                self.warm = True

        return Measure(PEER_NAMES[self.kind], "peer", command(lambda n: self.argv(n, *flags), env=self.env()),
                       prepare=prepare, needs=(self.program,), rss=not self.docker)

    def close(self) -> None:
        built = sorted({path.read_text().strip() for path in self.iids.glob("*")} if self.iids.exists() else set())
        if self.docker:
            # rmi of an image also removes its untagged parents: the COPY step's image goes with it.
            for image in built:
                subprocess.run([DOCKER, "rmi", "-f", image], capture_output=True)
        else:
            # Likewise: buildah rmi prunes the dangling step images under it.
            for image in built:
                subprocess.run(["buildah", "rmi", image], capture_output=True)
        shutil.rmtree(self.iids, ignore_errors=True)
        self.warm = False


def scenarios(options: Options) -> list[Scenario]:
    files, megabytes = (1_000, 10) if options.quick else (20_000, 200)
    data = BuildData(options.workdir / f"build-{files}-{megabytes}", files, megabytes)
    docker_here = bool(find_program("docker")) and docker_ready()

    def builders(scenario: str) -> tuple[LayerlabBuilds, list[PeerBuilds]]:
        peers = [PeerBuilds(data, "buildah", scenario)]
        if docker_here:
            peers.insert(0, PeerBuilds(data, "docker", scenario))
        return LayerlabBuilds(data, scenario), peers

    def scenario(name: str, description: str, cold: bool = False, one_file: bool = False) -> Scenario:
        ours, peers = builders(name)

        def edited(measure: Measure, tool: str) -> Measure:
            if not one_file:
                return measure
            prepare = measure.prepare

            def edit_then(n: int) -> None:
                prepare(n)
                data.edit_victim(tool, n)
            measure.prepare = edit_then
            return measure

        def measures() -> list[Measure]:
            return [edited(ours.build(cold), "layerlab"), *(edited(p.build(cold), p.kind) for p in peers)]

        def cleanup() -> None:
            ours.close()
            for peer in peers:
                peer.close()
            data.restore_victim()

        return Scenario(name, f"{description} of a {files:,}-file, {megabytes} MB context (COPY then RUN)",
                        data.make, measures, cleanup)

    return [
        scenario("build-cold", "cold build", cold=True),
        scenario("build-noop", "no-op rebuild"),
        scenario("build-one-file", "rebuild after one file changed", one_file=True),
    ]


if __name__ == "__main__":
    raise SystemExit(script_main(scenarios, __doc__))
