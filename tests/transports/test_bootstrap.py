from __future__ import annotations

import io
import json
import tarfile

import pytest

from layerlab.engine.bootstrap import busybox_image, rootfs_tar
from layerlab.engine.errors import UsageError
from tests.peers import need_program


def test_same_binary_same_image_id() -> None:
    busybox = need_program("busybox")
    first, second = busybox_image(busybox), busybox_image(busybox)
    assert first.config_digest == second.config_digest
    assert first.layers()[0].data == second.layers()[0].data


def test_rootfs_contents() -> None:
    image = busybox_image(need_program("busybox"))
    with tarfile.open(fileobj=io.BytesIO(image.layers()[0].data)) as tar:
        members = {m.name: m for m in tar}
        names = list(members)
        assert names == sorted(names)
        assert all(m.mtime == 0 and m.uid == 0 and m.gid == 0 for m in members.values())
        assert members["bin/busybox"].isreg() and members["bin/busybox"].mode == 0o755
        assert members["bin/sh"].issym() and members["bin/sh"].linkname == "busybox"
        assert members["usr/bin/env"].linkname == "../../bin/busybox"
        assert members["tmp"].mode == 0o1777
        passwd = tar.extractfile("etc/passwd").read().decode()
        assert passwd.startswith("root:x:0:0:") and "nobody:x:65534:65534:" in passwd
        assert "nobody:x:65534:" in tar.extractfile("etc/group").read().decode()
    config = json.loads(image.config_bytes())
    assert config["created"] == "1970-01-01T00:00:00Z"
    assert config["config"]["Cmd"] == ["sh"] and config["config"]["Env"][0].startswith("PATH=")


def test_tar_depends_only_on_inputs() -> None:
    assert rootfs_tar(b"binary", ("bin/sh", "usr/bin/awk")) == rootfs_tar(b"binary", ("usr/bin/awk", "bin/sh"))
    assert rootfs_tar(b"binary", ("bin/sh",)) != rootfs_tar(b"binary2", ("bin/sh",))


def test_dynamic_binary_is_refused() -> None:
    with pytest.raises(UsageError, match="statically linked"):
        busybox_image("/bin/ls")
