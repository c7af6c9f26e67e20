"""Per-layer snapshots under real builds: whiteouts and opaque directories through the overlay, a
150-layer chain, metadata steps that touch no files, several builds on one root at once."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tarfile

import pytest

from layerlab.engine.layers.names import opaque_xattr_for
from layerlab.engine.store import Store
from tests.build.conftest import json_events, write_context

pytestmark = pytest.mark.peers

DELETING = """FROM busybox
RUN mkdir -p /data/sub && echo a > /data/a && echo b > /data/sub/b && echo gone > /gone && echo k > /keep
RUN rm /gone && rm -rf /data && mkdir /data && echo n > /data/n
RUN ls -A /data > /listing && (test -e /gone && echo yes || echo no) > /gone-seen && cat /keep > /kept
"""


def tar_names(layer) -> list[str]:
    with layer.open_uncompressed() as blob, tarfile.open(fileobj=blob, mode="r|") as tar:
        return [member.name for member in tar]


def test_whiteouts_and_opaque_dirs_reach_the_layer_and_the_next_run(cli, root, base, tmp_path):
    built = cli("build", "-q", "-t", "deleting", str(write_context(tmp_path / "ctx", DELETING)))
    assert built.code == 0, built.err
    with Store.open(root) as store:
        image = store.image("deleting")
        deleting = image.layers()[-2]
        names = tar_names(deleting)
        assert ".wh.gone" in names and "data/.wh..wh..opq" in names and "data/n" in names
        layer_dir = store.snapshot_layers(image)[-2]
        gone = os.lstat(layer_dir / "gone")
        assert stat.S_ISCHR(gone.st_mode) and gone.st_rdev == 0
        assert os.getxattr(layer_dir / "data", opaque_xattr_for(os.geteuid())) == b"y"
        merged = store.merged_tree(image)
        assert (merged / "listing").read_text() == "n\n" and (merged / "gone-seen").read_text() == "no\n"
        assert (merged / "kept").read_text() == "k\n"
        assert [str(p) for p in store.fsck() if p.is_error] == []
    seen = cli("run", "deleting", "ls", "-A", "/data")
    assert seen.code == 0 and seen.out == "n\n", seen.err


def test_metadata_steps_make_no_snapshot_and_workdir_writes_only_its_directory(cli, root, base, tmp_path):
    context = write_context(tmp_path / "ctx", """FROM busybox
ENV A=1
LABEL l=v
EXPOSE 80
USER 0
STOPSIGNAL SIGTERM
SHELL ["/bin/sh", "-c"]
WORKDIR /app/sub
CMD ["sh"]
""")
    built = cli("build", "--progress=json", "-t", "meta", str(context))
    assert built.code == 0, built.err
    with Store.open(root) as store:
        image = store.image("meta")
        base_image = store.image("busybox")
        assert len(image.layers()) == len(base_image.layers()) + 1  # WORKDIR's only
        snapshots = sorted(path.name for path in (root / "snapshots").iterdir())
        assert snapshots == sorted(layer.chain_id.hex for layer in image.layers())
        workdir_layer = store.snapshot_layers(image)[-1]
        assert sorted(str(p.relative_to(workdir_layer)) for p in workdir_layer.rglob("*")) == ["app", "app/sub"]
    ends = [event for event in json_events(built.out) if event["type"] == "step.end"]
    assert [event["layer_size"] for event in ends if not event["instruction"].startswith("WORKDIR")] == [0] * 8


def test_a_150_layer_chain_builds_and_runs(cli, root, base, tmp_path):
    steps = 148
    files = {f"f{index}": f"{index}\n" for index in range(steps)}
    lines = ["FROM busybox"] + [f"COPY f{index} /d/" for index in range(steps)]
    lines.append("RUN rm /d/f7 && ls /d | wc -l > /count && cat /d/f0 /d/f147 > /both")
    context = write_context(tmp_path / "ctx", "\n".join(lines) + "\n", files)
    built = cli("build", "-q", "-t", "deep", str(context))
    assert built.code == 0, built.err
    with Store.open(root) as store:
        image = store.image("deep")
        assert len(image.layers()) >= 150
        merged = store.merged_tree(image)
        assert (merged / "count").read_text().strip() == str(steps - 1)
        assert (merged / "both").read_text() == "0\n147\n" and not (merged / "d" / "f7").exists()
    again = write_context(tmp_path / "again", "FROM deep\nRUN test ! -e /d/f7 && cat /d/f8 /count > /seen\n")
    rebuilt = cli("build", "-q", str(again))
    assert rebuilt.code == 0, rebuilt.err
    with Store.open(root) as store:
        assert (store.merged_tree(store.image(rebuilt.out.strip())) / "seen").read_text() == f"8\n{steps - 1}\n"


def test_concurrent_builds_on_one_root(cli, root, base, tmp_path):
    shared = "FROM busybox\nRUN echo shared > /shared && mkdir -p /opt/x && echo x > /opt/x/x\n"
    contexts = []
    for name in ("one", "two", "three"):
        dockerfile = shared + f"RUN rm -rf /opt/x && echo {name} > /name\nCOPY f /f\nRUN cat /shared /name /f > /all\n"
        contexts.append(write_context(tmp_path / name, dockerfile, {"f": f"file {name}\n"}))
    env = dict(os.environ, LAYERLAB_ROOT=str(root))
    procs = [subprocess.Popen([sys.executable, "-m", "layerlab", "build", "-q", "-t", context.name, str(context)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for context in contexts]
    results = [(proc, *proc.communicate(timeout=300)) for proc in procs]
    for proc, out, err in results:
        assert proc.returncode == 0, err
    with Store.open(root) as store:
        for context in contexts:
            merged = store.merged_tree(store.image(context.name))
            assert (merged / "all").read_text() == f"shared\n{context.name}\nfile {context.name}\n"
            assert not (merged / "opt" / "x").exists()
        assert [str(p) for p in store.fsck() if p.is_error] == []


def test_workdir_and_run_over_an_image_with_no_layers_yet(cli, root, base, tmp_path):
    context = write_context(tmp_path / "ctx", "FROM busybox AS tools\nFROM scratch\nLABEL empty=yes\n"
                            "WORKDIR /app\nCOPY --from=tools /bin/busybox /bin/busybox\n"
                            "RUN [\"/bin/busybox\", \"touch\", \"/app/made\"]\n")
    built = cli("build", "-q", "-t", "fromscratch", str(context))
    assert built.code == 0, built.err
    with Store.open(root) as store:
        merged = store.merged_tree(store.image("fromscratch"))
        assert (merged / "app" / "made").exists() and (merged / "bin" / "busybox").is_file()


def test_a_store_opened_by_a_relative_path_runs_a_build(root, base, tmp_path, monkeypatch):
    # runc resolves the bundle's paths from its own directory: they must not be relative to ours
    from layerlab.engine.api.layer_files import read_file
    from layerlab.engine.builder.executor import BuildRequest, build
    from layerlab.engine.events import discard

    context = write_context(tmp_path / "ctx", "FROM busybox\nRUN echo ran > /ran\n")
    monkeypatch.chdir(root.parent)
    with Store.open(root.name) as store:
        result = build(BuildRequest(context_dir=context, dockerfile="Dockerfile", network="none"), store, discard)
        image = store.image(str(result.image_id))
        assert read_file(image, len(image.layers()) - 1, "/ran") == b"ran\n"
