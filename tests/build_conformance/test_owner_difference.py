"""Owner changes: a documented difference from Docker's classic builder.

Docker's client sends every context file as 0:0, so chown on a copied file
is invisible to its cache (a hit). layerlab keeps owners (``owner="keep"``):
the COPY misses and says so, ``owner 0:0 → 1000:1000``; the file still
arrives as 0:0, as COPY without --chown always makes it.
"""

from __future__ import annotations

import os

import pytest

from tests.build_conformance.builders import LayerlabBuilder, unique_tag
from tests.build_conformance.harness import read_archive, step_lines
from tests.build_conformance.test_conformance import build_command_missing
from tests.peers import need_program

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="chown to another owner needs root"),
    pytest.mark.xfail(bool(build_command_missing()), strict=True, reason=str(build_command_missing())),
]


def test_owner_change_misses_with_its_reason(root, tmp_path):
    builder = LayerlabBuilder(root)
    code, _, err = builder.run("bootstrap", "busybox", "busybox:latest", "--busybox", need_program("busybox"))
    assert code == 0, err
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "app.txt").write_text("app\n")
    (context / "Dockerfile").write_text("FROM busybox\nCOPY app.txt /app.txt\nRUN cat /app.txt > /copy.txt\n")
    steps = step_lines((context / "Dockerfile").read_text())
    tag = unique_tag("owner")
    first = builder.build(context, "Dockerfile", {}, None, tag, steps)
    assert "".join(first.pattern[line] for line in sorted(first.pattern)) == "MM"
    os.chown(context / "app.txt", 1000, 1000)
    second = builder.build(context, "Dockerfile", {}, None, tag, steps)
    assert "".join(second.pattern[line] for line in sorted(second.pattern)) == "MM"
    copy_end = next(e for e in second.events if e["type"] == "step.end" and e["dockerfile_line"] == 2)
    assert "app.txt" in copy_end["reason"] and "owner 0:0 → 1000:1000" in copy_end["reason"]
    view = read_archive(builder.save(tag, tmp_path / "owned.tar"))
    assert view.files["/app.txt"][2:4] == (0, 0)
