"""The analysis commands end to end: docker-archive and OCI sources, and the store."""

from __future__ import annotations

import json

import pytest

from tests.analysis.layertar import docker_archive, layer_tar

INSTRUCTIONS = [
    "/bin/sh -c #(nop) ADD file:base in / ",
    '/bin/sh -c #(nop)  CMD ["/bin/sh"]',
    "/bin/sh -c apt-get update",
    "/bin/sh -c rm -rf /var/lib/apt/lists/*",
    "/bin/sh -c #(nop) COPY file:conf in /etc/app.conf ",
]


def history(instructions):
    return [{"created_by": text, **({"empty_layer": True} if "CMD" in text else {})} for text in instructions]


@pytest.fixture
def archive(tmp_path):
    layers = [
        layer_tar(("f", "bin/sh", 1000), ("f", "etc/os-release", b"ID=test\n")),
        layer_tar(("f", "var/lib/apt/lists/main", 5000)),
        layer_tar(("opq", "var/lib/apt/lists")),
        layer_tar(("f", "etc/app.conf", b"port = 80\n")),
    ]
    return _archive(tmp_path / "one.tar", layers, INSTRUCTIONS, "demo:1")


def _archive(path, layers, instructions, tag):
    import hashlib
    import io
    import tarfile

    docker_archive(path, layers, [], tag)
    # rewrite the config with a history that marks the CMD row empty
    with tarfile.open(path) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}
    manifest = json.loads(members["manifest.json"])
    config = json.loads(members[manifest[0]["Config"]])
    config["history"] = history(instructions)
    config_bytes = json.dumps(config).encode()
    name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    del members[manifest[0]["Config"]]
    manifest[0]["Config"] = name
    members[name] = config_bytes
    members["manifest.json"] = json.dumps(manifest).encode()
    with tarfile.open(path, "w") as tar:
        for member_name, data in members.items():
            info = tarfile.TarInfo(member_name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_layers_table_and_json(cli, archive):
    result = cli("layers", f"docker-archive:{archive}", "--json")
    assert result.code == 0, result.err
    rows = json.loads(result.out)
    assert [(r["index"], r["added"], r["modified"], r["removed"], r["base"]) for r in rows] == [
        (0, 4, 0, 0, True), (1, 5, 0, 0, False), (2, 0, 0, 1, False), (3, 1, 0, 0, False)]
    assert rows[1]["instruction"] == "RUN apt-get update"
    assert rows[3]["instruction"] == "COPY file:conf in /etc/app.conf"
    table = cli("layers", "--source", f"docker-archive:{archive}")
    assert table.code == 0
    assert table.out.splitlines()[0].split() == ["LAYER", "SIZE", "ADDED", "MODIFIED", "REMOVED", "INSTRUCTION"]
    assert "RUN apt-get update" in table.out


def test_diff_one_layer_and_whole_image(cli, archive):
    result = cli("diff", f"docker-archive:{archive}", "--layer", "2")
    assert result.code == 0, result.err
    assert result.out == "D /var/lib/apt/lists/main\n"
    whole = json.loads(cli("diff", f"docker-archive:{archive}", "--json", "--glob", "*.conf").out)
    assert [(row["layer"], row["change"], row["path"]) for row in whole] == [(3, "A", "/etc/app.conf")]
    bad = cli("diff", f"docker-archive:{archive}", "--layer", "9")
    assert bad.code == 2 and "out of range" in bad.err and "Traceback" not in bad.err


def test_analyze_reports_and_ci_fails_on_a_rule(cli, archive, tmp_path):
    report = json.loads(cli("analyze", f"docker-archive:{archive}", "--json").out)
    assert report["reclaimable_bytes"] == 5000
    assert report["base_layers"] == 1
    assert report["user_reclaimable_bytes"] == 5000
    assert report["offenders"][0]["category"] == "apt-lists"
    assert report["efficiency"] == pytest.approx(1.0)  # dive misses the opaque directory entirely
    rules = tmp_path / ".dive-ci"
    rules.write_text("rules:\n  lowest-efficiency: 0.5\n  highestWastedBytes: 1kB\n")
    judged = cli("analyze", f"docker-archive:{archive}", "--ci", "--ci-config", str(rules),
                 "--ci-measure", "reclaimable")
    assert judged.code == 1, judged.out
    assert "FAIL: highestWastedBytes" in judged.out
    passing = cli("analyze", f"docker-archive:{archive}", "--ci", "--ci-config", str(rules))
    assert passing.code == 0, passing.out  # dive's own wasted bytes are 0 here
    missing = cli("analyze", f"docker-archive:{archive}", "--ci", "--ci-config", str(tmp_path / "nope"))
    assert missing.code == 1 and "no such CI config" in missing.err


def test_cat_and_cp(cli, archive, tmp_path):
    assert cli("cat", f"docker-archive:{archive}", "/etc/os-release").out == "ID=test\n"
    gone = cli("cat", f"docker-archive:{archive}", "/var/lib/apt/lists/main")
    assert gone.code == 1 and "no such file" in gone.err
    assert cli("cat", f"docker-archive:{archive}", "/var/lib/apt/lists/main", "--layer", "1").out == "x" * 5000
    result = cli("cp", f"docker-archive:{archive}:/etc", str(tmp_path / "etc-copy"))
    assert result.code == 0, result.err
    assert (tmp_path / "etc-copy" / "app.conf").read_text() == "port = 80\n"


def test_diff_two_archives_with_content(cli, archive, tmp_path):
    other = _archive(tmp_path / "two.tar", [
        layer_tar(("f", "bin/sh", 1000), ("f", "etc/os-release", b"ID=test\n")),
        layer_tar(("f", "etc/app.conf", b"port = 8080\n")),
    ], [INSTRUCTIONS[0], INSTRUCTIONS[1], INSTRUCTIONS[4]], "demo:2")
    result = cli("diff", f"docker-archive:{archive}", f"docker-archive:{other}", "--content")
    assert result.code == 0, result.err
    assert "M /etc/app.conf  (size)" in result.out
    assert "-port = 80\n+port = 8080\n" in result.out
    assert "D /var/lib/apt" in result.out


def test_images_in_the_store_and_oci_layouts(cli, archive, root, tmp_path):
    from layerlab.engine.store import Store
    from layerlab.engine.transports.docker_archive import open_docker_archive
    from layerlab.engine.transports.oci_layout import write_oci_layout

    with open_docker_archive(archive) as opened, Store.open(root) as store:
        image, tags = opened.images[0]
        store.put_image(image, tags=["demo:1"])
        write_oci_layout([(image, ["demo:1"])], tmp_path / "layout")
    from_store = json.loads(cli("layers", "demo:1", "--json").out)
    from_layout = json.loads(cli("layers", f"oci:{tmp_path / 'layout'}", "--json").out)
    from_archive = json.loads(cli("layers", f"docker-archive:{archive}", "--json").out)
    assert from_store == from_layout == from_archive
    assert cli("cat", "demo:1", "/etc/app.conf").out == "port = 80\n"
    missing = cli("layers", "nope:1")
    assert missing.code == 1 and "nope" in missing.err


def test_files_search_and_sort(cli, archive):
    rows = json.loads(cli("files", f"docker-archive:{archive}", "--json", "--sort", "size").out)
    assert [row["path"] for row in rows[:2]] == ["/bin", "/bin/sh"]  # directories sized by their contents
    assert rows[0]["size"] == 1000
    found = json.loads(cli("files", f"docker-archive:{archive}", "--json", "--regex", r"release$").out)
    assert [(row["path"], row["type"], row["mode"], row["uid"], row["size"]) for row in found] == [
        ("/etc/os-release", "file", "0644", 0, 8)]
    as_of_1 = cli("files", f"docker-archive:{archive}", "--layer", "1", "--glob", "/var/lib/apt/lists/*")
    assert as_of_1.out.splitlines()[1].endswith("/var/lib/apt/lists/main")
    bad = cli("files", f"docker-archive:{archive}", "--regex", "(")
    assert bad.code == 2 and "--regex" in bad.err


def test_zero_user_bytes_json_has_no_infinity(cli, tmp_path):
    # dive divides its wasted bytes by zero user bytes here
    path = _archive(tmp_path / "zero.tar", [layer_tar(("f", "a", 5)), layer_tar(("wh", "a"))],
                    [INSTRUCTIONS[0], "/bin/sh -c rm /a"], "zero:1")
    result = cli("analyze", f"docker-archive:{path}", "--json")
    assert result.code == 0, result.err
    assert "Infinity" not in result.out
    report = json.loads(result.out)
    assert report["dive"]["user_wasted_percent"] is None and report["reclaimable_bytes"] == 5
