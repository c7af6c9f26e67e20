"""The overlay mount itself, and the mount-point stub layer that keeps runtime bookkeeping out of layers."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from layerlab.engine.errors import UsageError
from layerlab.engine.runtime import MountSpec, OverlayRootfs, ProcessSpec
from layerlab.engine.runtime.rootfs import is_mounted
from layerlab.engine.layers.stack import LayerStack
from layerlab.engine.runtime.stubs import make_mount_stubs

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting an overlay needs root")


@needs_root
def test_overlay_merges_lowers_top_wins_and_unmounts(tmp_path):
    bottom, top = tmp_path / "bottom", tmp_path / "top"
    bottom.mkdir(), top.mkdir()
    (bottom / "a").write_text("bottom")
    (bottom / "b").write_text("only bottom")
    (top / "a").write_text("top")
    with OverlayRootfs([bottom, top], tmp_path / "ws") as rootfs:
        assert is_mounted(rootfs.merged)
        assert (rootfs.merged / "a").read_text() == "top"
        assert (rootfs.merged / "b").read_text() == "only bottom"
        (rootfs.merged / "c").write_text("new")
    assert not is_mounted(rootfs.merged)
    assert os.listdir(rootfs.upper) == ["c"]
    assert sorted(os.listdir(bottom)) == ["a", "b"] and os.listdir(top) == ["a"]


@needs_root
def test_overlay_unmounts_when_the_body_raises(tmp_path):
    lower = tmp_path / "lower"
    lower.mkdir()
    rootfs = OverlayRootfs([lower], tmp_path / "ws")
    with pytest.raises(RuntimeError):
        with rootfs:
            assert is_mounted(rootfs.merged)
            raise RuntimeError("step failed")
    assert not is_mounted(rootfs.merged)


@needs_root
def test_overlay_with_zero_lowers_and_awkward_paths(tmp_path):
    with OverlayRootfs([], tmp_path / "ws") as rootfs:
        assert os.listdir(rootfs.merged) == []
    odd = tmp_path / "a,b:c d"
    odd.mkdir()
    (odd / "f").write_text("x")
    with OverlayRootfs([odd], tmp_path / "ws2") as rootfs:
        assert (rootfs.merged / "f").read_text() == "x"
    assert not is_mounted(rootfs.merged)


@needs_root
def test_overlay_mounts_where_absolute_option_names_would_overflow_the_page_or_be_misread(tmp_path):
    # The mount is made with mount(2) and absolute names when they fit; otherwise from the workspace
    # with short relative ones: both must give the same merged tree.
    lowers = []
    for index in range(40):
        lower = tmp_path / f"layer{index}"
        lower.mkdir()
        (lower / f"f{index}").write_text(str(index))
        lowers.append(lower)
    expected = sorted(f"f{index}" for index in range(40))
    for workspace in (tmp_path / ("w" * 150) / "ws", tmp_path / "ws,with:odd\\names"):
        with OverlayRootfs(lowers, workspace) as rootfs:
            assert sorted(os.listdir(rootfs.merged)) == expected
            (rootfs.merged / "new").write_text("x")
        assert not is_mounted(rootfs.merged)
        assert os.listdir(rootfs.upper) == ["new"]


def test_stubs_follow_symlinks_whiteouts_and_keep_parent_metadata(tmp_path):
    lower, upper_lower, stubs = tmp_path / "lower", tmp_path / "upper_lower", tmp_path / "stubs"
    (lower / "etc").mkdir(parents=True)
    (lower / "etc").chmod(0o711)
    (lower / "var" / "run").mkdir(parents=True)
    os.symlink("/var/run", lower / "run")
    (lower / "proc").mkdir()
    (lower / "gone").mkdir()
    upper_lower.mkdir()
    if os.geteuid() == 0:
        os.mknod(upper_lower / "gone", stat.S_IFCHR, os.makedev(0, 0))  # a whiteout hides lower/gone
    make_mount_stubs([lower, upper_lower], stubs, {
        "/proc": True, "/etc/hosts": False, "/run/secrets/key": False, "/gone/cache": True,
    })
    created = sorted(str(path.relative_to(stubs)) for path in stubs.rglob("*"))
    expected = ["etc", "etc/hosts", "var", "var/run", "var/run/secrets", "var/run/secrets/key"]
    if os.geteuid() == 0:
        expected = ["etc", "etc/hosts", "gone", "gone/cache", "var", "var/run", "var/run/secrets",
                    "var/run/secrets/key"]
        # /gone was deleted above: a fresh directory, not a copy of the hidden one.
        assert stat.S_IMODE(os.stat(stubs / "gone").st_mode) == 0o755
    assert [path for path in created if not path.startswith("gone")] == [p for p in expected if not p.startswith("gone")]
    assert stat.S_IMODE(os.stat(stubs / "etc").st_mode) == 0o711
    assert os.stat(stubs / "etc").st_mtime_ns == os.stat(lower / "etc").st_mtime_ns
    assert LayerStack.of([lower, upper_lower]).resolve("/run/secrets")[0] == "/var/run/secrets"


def test_spec_validation_names_the_problem():
    with pytest.raises(UsageError, match="numeric"):
        ProcessSpec(["true"], user="root")
    with pytest.raises(UsageError, match="network"):
        ProcessSpec(["true"], network="bridge")
    with pytest.raises(UsageError, match="KEY=VALUE"):
        ProcessSpec(["true"], env=["PATH"])
    with pytest.raises(UsageError, match="no command"):
        ProcessSpec([])
    with pytest.raises(UsageError, match="absolute"):
        MountSpec("tmpfs", "scratch")
    with pytest.raises(UsageError, match="needs a source"):
        MountSpec("bind", "/src")
    assert ProcessSpec(["true"], user="1000:50").gid == 50
    assert MountSpec.secret("npmrc", Path("/x")).target == "/run/secrets/npmrc"
