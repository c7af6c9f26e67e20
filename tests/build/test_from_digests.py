"""``COPY --from`` names its sources as the classic builder does: by hashing the other stage's rootfs."""

from __future__ import annotations

import os

import pytest

from layerlab.engine.builder.context import BuildContext
from tests.build.conftest import write_context

# The digests Docker 20.10's classic builder wrote for these very files (root-owned, on a host
# where uid and gid 0 are named root), read from ``docker history`` of its own build.
DOCKER_FILE_DIGEST = "file:ac3024cf92da537bea3d46dcb2af68d5a4f5fdba4efbf4f3d6eb9a225318cd18"  # /first.txt
DOCKER_DIR_DIGEST = "dir:20fa61962add3ef9564b23ca6e5d7511dc954281934ebe0c2816e27aacddccb9"    # /shared


def _rootfs(tmp_path):
    root = tmp_path / "rootfs"
    (root / "shared").mkdir(parents=True)
    (root / "first.txt").write_text("first\n")
    (root / "shared" / "s.txt").write_text("shared\n")
    for path in (root / "first.txt", root / "shared" / "s.txt"):
        path.chmod(0o644)
    (root / "shared").chmod(0o755)
    return root


@pytest.mark.skipif(os.geteuid() != 0, reason="the files must be owned by root, as in an image")
def test_image_headers_match_docker_for_a_file_and_a_directory(tmp_path):
    root = _rootfs(tmp_path)
    image = BuildContext(root, headers="image")
    assert image.sources(["/first.txt"]).digest == DOCKER_FILE_DIGEST
    assert image.sources(["/shared"]).digest == DOCKER_DIR_DIGEST
    # the same files as a build context are named differently, as Docker names them
    context = BuildContext(root)
    assert context.sources(["first.txt"]).digest != DOCKER_FILE_DIGEST


def test_copy_from_history_names_the_stage_files_by_image_headers(cli, root, base, tmp_path):
    context = write_context(tmp_path / "ctx", """FROM busybox AS first
RUN echo first > /first.txt && mkdir -p /shared && echo shared > /shared/s.txt && chmod 0755 /shared

FROM busybox
COPY --from=first /first.txt /from-first.txt
COPY --from=first /shared /shared
""")
    result = cli("build", "-q", str(context))
    assert result.code == 0, result.err
    from layerlab.engine.store import Store

    image = Store.open(root).image(result.out.strip())
    created_by = [h.created_by for h in image.config.history[-2:]]
    assert created_by == [f"/bin/sh -c #(nop) COPY {DOCKER_FILE_DIGEST} in /from-first.txt ",
                          f"/bin/sh -c #(nop) COPY {DOCKER_DIR_DIGEST} in /shared "]
