"""Session fixtures: one busybox base both builders hold under the same image ID.

Our bootstrap image goes into docker (save -> docker load); a one-line
``LABEL`` build on it there makes a base unique to this session, so Docker's
classic cache from earlier runs cannot answer for this one (and each case gets
a base of its own the same way, so cases cannot answer for each other), and every image
the suite builds carries the label (teardown removes exactly those). That base
comes back to our store with ``docker save`` -> ``layerlab load``: same ID.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.build_conformance.builders import DockerBuilder, LayerlabBuilder, run_layerlab
from tests.peers import need_program


SESSION_ARG = "LAYERLAB_CONFORMANCE_SESSION"


class Session:
    def __init__(self, base: str, docker: DockerBuilder, layerlab: LayerlabBuilder, work: Path, session: str) -> None:
        self.base, self.docker, self.layerlab, self.work = base, docker, layerlab, work
        # Every build gets --build-arg SESSION_ARG=<this id>: a case with a stage FROM scratch declares it
        # and writes it into a file, so Docker's cache from an earlier session cannot answer there.
        self.build_args = {SESSION_ARG: session}
        self.buildkit = DockerBuilder(docker.docker, docker.label, buildkit=True)
        self.layerlab_buildkit = LayerlabBuilder(layerlab.root, "buildkit")

    def builders(self, semantics: str) -> tuple[DockerBuilder, LayerlabBuilder]:
        """Docker's builder and ours, for ``semantics`` "classic" or "buildkit"."""
        if semantics == "buildkit":
            return self.buildkit, self.layerlab_buildkit
        return self.docker, self.layerlab

    def case_base(self, case: str) -> str:
        """A base of the case's own (one more LABEL), so cases cannot reuse each other's cache."""
        tag = f"{self.base}-{case}"
        folder = self.work / f"base-{case}"
        if folder.exists():   # made for the case's run under the other semantics
            return tag
        folder.mkdir()
        # The file makes the base's content the case's own: BuildKit keys its cache on content, not on
        # image IDs, so a LABEL alone would let other cases and earlier sessions answer for this one.
        (folder / "Dockerfile").write_text(f"FROM {self.base}\nLABEL layerlab.conformance.case={case}\n"
                                           f"RUN echo {case} {self.build_args[SESSION_ARG]} > /etc/conformance-case\n")
        self.docker.docker.run("build", "-q", "--network", "none", "-t", tag, str(folder))
        self.docker.docker.run("save", "-o", str(folder / "base.tar"), tag)
        code, _, err = self.layerlab.run("load", "-i", str(folder / "base.tar"))
        assert code == 0, f"layerlab load: {err}"
        return tag


@pytest.fixture(scope="session")
def conformance(docker, tmp_path_factory) -> Session:
    busybox = need_program("busybox")
    work = tmp_path_factory.mktemp("conformance")
    root = work / "root"
    session = uuid.uuid4().hex[:12]
    boot = f"layerlab-conformance-boot:{session}"
    base = f"layerlab-conformance-base:{session}"
    label = f"layerlab.conformance.session={session}"

    def ok(*args: str) -> str:
        code, out, err = run_layerlab(root, *args)
        assert code == 0, f"layerlab {' '.join(args)}: {err}"
        return out

    ok("bootstrap", "busybox", boot, "--busybox", busybox)
    ok("save", "-o", str(work / "boot.tar"), boot)
    docker.run("load", "-i", str(work / "boot.tar"))
    builder = DockerBuilder(docker, label)
    session_object: Session | None = None
    try:
        (work / "base").mkdir()
        (work / "base" / "Dockerfile").write_text(f"FROM {boot}\nLABEL {label}\n")
        docker.run("build", "-q", "--network", "none", "-t", base, str(work / "base"))
        docker.run("rmi", boot)
        docker.run("save", "-o", str(work / "base.tar"), base)
        ok("load", "-i", str(work / "base.tar"))
        session_object = Session(base, builder, LayerlabBuilder(root), work, session)
        yield session_object
    finally:
        builder.remove_session_images()
        if session_object is not None:
            session_object.buildkit.remove_session_images()
        docker.run("rmi", boot, check=False)
