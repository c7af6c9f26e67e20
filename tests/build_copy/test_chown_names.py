"""``--chown`` names as numbers: the classic builder's rules and BuildKit's."""

from __future__ import annotations

from pathlib import Path

import pytest

from layerlab.engine.builder.copy.ownership import resolve_buildkit_chown, resolve_chown
from layerlab.engine.errors import BuildError
from layerlab.engine.layers.stack import LayerStack


@pytest.fixture
def image(tmp_path: Path) -> LayerStack:
    etc = tmp_path / "layer" / "etc"
    etc.mkdir(parents=True)
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n")
    (etc / "group").write_text("root:x:0:\nstaff:x:1001:\napp:x:1002:\n")
    return LayerStack.of([tmp_path / "layer"])


@pytest.mark.parametrize("text, classic, buildkit", [
    ("app", (1000, 1002), (1000, 1001)),        # classic: the group named like the user; BuildKit: passwd's gid
    ("app:staff", (1000, 1001), (1000, 1001)),
    ("app:7", (1000, 7), (1000, 7)),
    ("1234", (1234, 1234), (1234, 1234)),
    ("1234:staff", (1234, 1001), (1234, 1001)),
    ("root", (0, 0), (0, 0)),
])
def test_names_resolve_per_builder(image, text, classic, buildkit):
    assert resolve_chown(text, image, "Dockerfile:3") == classic
    assert resolve_buildkit_chown(text, image) == buildkit


def test_unknown_names_fail_in_classic_and_fall_back_in_buildkit(image):
    with pytest.raises(BuildError, match="Dockerfile:3: .*no such user: ghost"):
        resolve_chown("ghost", image, "Dockerfile:3")
    assert resolve_buildkit_chown("ghost", image) == (0, 0)
    assert resolve_buildkit_chown("app:ghosts", image) == (1000, 1001)
