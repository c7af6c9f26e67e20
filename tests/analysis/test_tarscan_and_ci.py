"""The fast tar header reader agrees with tarfile; dive's CI rules file and verdicts."""

from __future__ import annotations

import io
import tarfile

import pytest

from layerlab.engine.analysis import ci
from layerlab.engine.layers.tarscan import clean_path, scan
from layerlab.engine.errors import CorruptLayer, UsageError


def _tar(format_: int) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=format_) as tar:
        long_dir = "deep/" + "/".join(f"segment{i:02d}" for i in range(20))
        for name, data in [("./a.txt", b"hello"), (f"{long_dir}/file.bin", b"x" * 1500), ("empty", b"")]:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.uid, info.gid = len(data), 0o640, 1000, 2000
            tar.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo("dir/")
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
        info = tarfile.TarInfo("link")
        info.type, info.linkname = tarfile.SYMTYPE, "/" + long_dir + "/file.bin"
        tar.addfile(info)
        info = tarfile.TarInfo("hard")
        info.type, info.linkname = tarfile.LNKTYPE, "a.txt"
        tar.addfile(info)
    return out.getvalue()


@pytest.mark.parametrize("format_", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT, tarfile.USTAR_FORMAT])
def test_scan_agrees_with_tarfile(format_):
    data = _tar(format_) if format_ != tarfile.USTAR_FORMAT else None
    if data is None:
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
            info = tarfile.TarInfo("p" * 90 + "/" + "q" * 90)  # uses the ustar prefix field
            info.size = 3
            tar.addfile(info, io.BytesIO(b"abc"))
        data = out.getvalue()
    ours = list(scan(io.BytesIO(data)))
    with tarfile.open(fileobj=io.BytesIO(data), mode="r|") as tar:
        theirs = [(clean_path(m.name), m.mode, m.uid, m.gid, m.size if m.isreg() else 0, m.linkname, m.offset_data)
                  for m in tar]
    assert [(e.path, e.mode, e.uid, e.gid, e.size, e.linkname, e.offset) for e in ours] == theirs
    for entry in ours:
        if entry.size:
            assert len(data[entry.offset: entry.offset + entry.size]) == entry.size


def test_hostile_names_are_clamped_inside_the_root():
    assert clean_path("../../etc/passwd") == "etc/passwd"
    assert clean_path("/a/./b/../c/") == "a/c"
    assert clean_path("./") == ""


def test_corrupt_and_truncated_tars_raise_corrupt_layer():
    data = bytearray(_tar(tarfile.GNU_FORMAT))
    data[0] ^= 0xFF  # first header's checksum no longer matches
    with pytest.raises(CorruptLayer, match="checksum"):
        list(scan(io.BytesIO(bytes(data)), where="layer 3"))
    with pytest.raises(CorruptLayer, match="layer 3"):
        list(scan(io.BytesIO(_tar(tarfile.GNU_FORMAT)[:700]), where="layer 3"))


def test_dive_ci_file_camel_and_kebab_case():
    rules = ci.parse_ci_config(
        "# comment\nrules:\n  lowestEfficiency: 0.95\n  highest-wasted-bytes: 20MB  # inline\n"
        "  highestUserWastedPercent: disabled\nother:\n  ignored: 1\n")
    assert rules == {"lowestEfficiency": "0.95", "highestWastedBytes": "20MB", "highestUserWastedPercent": "disabled"}
    with pytest.raises(UsageError, match="unknown rule"):
        ci.parse_ci_config("rules:\n  lowestEfficency: 0.9\n", where=".dive-ci")


def test_ci_sizes_are_read_as_dive_reads_them():
    assert ci.parse_bytes("20MB") == 20_000_000
    assert ci.parse_bytes("20 MiB") == 20 * 1024 ** 2
    assert ci.parse_bytes("1.5kb") == 1500
    assert ci.parse_bytes("512") == 512
    with pytest.raises(ValueError):
        ci.parse_bytes("lots")


def test_ci_verdicts_follow_dive():
    rules = {"lowestEfficiency": "0.95", "highestWastedBytes": "1kB", "highestUserWastedPercent": "disabled"}
    results = ci.evaluate(rules, efficiency=0.96, wasted_bytes=1001, user_wasted_percent=5.0)
    assert [(r.rule, r.status) for r in results] == [
        ("lowestEfficiency", "PASS"), ("highestWastedBytes", "FAIL"), ("highestUserWastedPercent", "SKIP")]
    assert not ci.passed(results)
    assert ci.passed(ci.evaluate(rules, efficiency=0.95, wasted_bytes=1000, user_wasted_percent=5.0))
    bad = ci.evaluate({**rules, "lowestEfficiency": "high"}, efficiency=1.0, wasted_bytes=0, user_wasted_percent=0)
    assert bad[0].status == "FAIL" and "invalid config value" in bad[0].message
    defaults = ci.evaluate(dict(ci.DEFAULTS), efficiency=0.89, wasted_bytes=10 ** 12, user_wasted_percent=0.05)
    assert [r.status for r in defaults] == ["FAIL", "SKIP", "PASS"]
