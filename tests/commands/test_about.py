"""``--version``, ``version``, ``info``, ``completion`` (run in real bash, zsh and fish) and ``search``
against a local server answering in Docker Hub's search JSON."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from layerlab.engine.store import Store
from tests.store.images import make_image


def test_version_flag_and_command(cli):
    flag = cli("--version")
    assert flag.code == 0 and flag.out.startswith("layerlab version ") and flag.out.count("\n") == 1
    assert cli("-v").out == flag.out
    command = cli("version", "--format", "json")
    assert json.loads(command.out)["Version"] == flag.out.split()[-1]


def test_info_reports_the_store_and_how_a_run_would_go(cli, root):
    with Store.open(root) as store:
        store.put_image(make_image({"a": b"1"}), tags=["infoimage:1", "infoimage:2"])
    plain = cli("info")
    assert plain.code == 0, plain.err
    assert f" Root Dir: {root}\n" in plain.out and " Images: 1\n" in plain.out and " Tags: 2\n" in plain.out
    data = json.loads(cli("info", "--format", "json").out)
    assert data["StoreFormat"] >= 2 and data["Blobs"] >= 2
    assert data["Runtime"] in ("runc", "bubblewrap") and data["Rootless"] is False
    assert "slirp4netns" in data["Network"] and data["Seccomp"].startswith("builtin")
    assert cli("info", "--format", "{{.Images}}/{{.Tags}}").out == "1/2\n"


def test_help_lists_the_new_commands_in_dockers_groups(cli):
    text = cli("--help").out
    common = text.split("Common Commands:")[1].split("Management Commands:")[0]
    assert "\n  version " in common and "\n  info " in common and "\n  search " in common
    assert "\n  completion " in text.split("\nCommands:")[1]
    assert "-v, --version" in text


@pytest.fixture
def completion_env(cli, root, tmp_path) -> dict:
    """A PATH whose ``layerlab`` runs this checkout on ``root``, with two images in the store."""
    with Store.open(root) as store:
        store.put_image(make_image({"a": b"1"}), tags=["alpha:1"])
        store.put_image(make_image({"b": b"2"}), tags=["beta:2"])
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "layerlab"
    wrapper.write_text(f"#!/bin/sh\nexec {sys.executable} -m layerlab --root {root} \"$@\"\n")
    wrapper.chmod(0o755)
    return {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path)}


def _script(cli, shell: str, tmp_path: Path) -> Path:
    result = cli("completion", shell)
    assert result.code == 0, result.err
    path = tmp_path / f"completion.{shell}"
    path.write_text(result.out)
    return path


def _bash(script: Path, env: dict, line: str) -> list[str]:
    words = line.split(" ")
    program = (f"source {script}\nCOMP_WORDS=({' '.join(repr(w) for w in words)})\nCOMP_CWORD={len(words) - 1}\n"
               "_layerlab\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n")
    done = subprocess.run(["bash", "--norc", "-c", program], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    return sorted(filter(None, done.stdout.splitlines()))


def test_bash_completion_from_the_parser_with_images_from_the_store(cli, completion_env, tmp_path):
    script = _script(cli, "bash", tmp_path)
    assert "version" in _bash(script, completion_env, "layerlab ver")
    assert _bash(script, completion_env, "layerlab image l") == ["load", "ls"]
    assert "--no-cache" in _bash(script, completion_env, "layerlab build --no")
    assert _bash(script, completion_env, "layerlab --root /x run a") == ["alpha:1"]
    assert _bash(script, completion_env, "layerlab image rm ") == ["alpha:1", "beta:2"]
    assert _bash(script, completion_env, "layerlab completion z") == []


def test_zsh_and_fish_scripts_complete_too(cli, completion_env, tmp_path):
    zsh, fish = shutil.which("zsh"), shutil.which("fish")
    if not (zsh and fish):
        pytest.fail("zsh and fish are needed (scripts/setup installs them)")
    zsh_script = _script(cli, "zsh", tmp_path)
    assert subprocess.run([zsh, "-n", str(zsh_script)], capture_output=True).returncode == 0
    # Run the zsh function with compadd replaced by a printer: the words it would offer.
    program = (f"source {zsh_script}\ncompadd() {{ [[ $1 == -- ]] && shift; print -l -- $@ }}\n_files() {{ }}\n"
               "words=(layerlab image rm ''); CURRENT=4; _layerlab\n")
    done = subprocess.run([zsh, "-f", "-c", program], capture_output=True, text=True, env=completion_env, timeout=60)
    assert sorted(filter(None, done.stdout.splitlines())) == ["alpha:1", "beta:2"], done.stderr
    fish_script = _script(cli, "fish", tmp_path)
    program = f"source {fish_script}; complete -C 'layerlab image rm '; complete -C 'layerlab ima'"
    done = subprocess.run([fish, "--no-config", "-c", program], capture_output=True, text=True,
                          env=completion_env, timeout=60)
    offered = [line.split("\t")[0] for line in done.stdout.splitlines()]
    assert {"alpha:1", "beta:2", "image", "images"} <= set(offered), done.stdout + done.stderr


HUB_RESULTS = [
    {"name": "busybox", "description": "Busybox base image.", "star_count": 3200, "is_official": True,
     "is_automated": False},
    {"name": "someone/busybox-tools", "description": "A very long description that goes on and on past the"
     " forty-five characters docker keeps", "star_count": 12, "is_official": False, "is_automated": True},
    {"name": "other/busybox", "description": "line one\nline two", "star_count": 2, "is_official": False,
     "is_automated": False},
]


@pytest.fixture
def hub(monkeypatch):
    """A local server answering /v1/search in Docker Hub's documented shape; keeps the queries."""
    queries: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            query = urllib.parse.parse_qs(url.query)
            queries.append(query)
            limit = int(query.get("n", ["25"])[0])
            results = [r for r in HUB_RESULTS if query["q"][0] in r["name"]][:limit]
            body = json.dumps({"num_pages": 1, "num_results": len(results), "page_size": limit, "page": 1,
                               "query": query["q"][0], "results": results}).encode()
            self.send_response(200 if url.path == "/v1/search" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("LAYERLAB_INDEX_URL", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.delenv("LAYERLAB_REGISTRY", raising=False)
    yield queries
    server.shutdown()
    server.server_close()


def test_search_reads_hubs_api_with_limit_filters_and_format(cli, hub):
    table = cli("search", "busybox")
    assert table.code == 0, table.err
    lines = table.out.splitlines()
    assert lines[0].split() == ["NAME", "DESCRIPTION", "STARS", "OFFICIAL"]
    assert lines[1].split() == ["busybox", "Busybox", "base", "image.", "3200", "[OK]"]
    assert HUB_RESULTS[1]["description"][:44] + "…" in lines[2]   # docker's Ellipsis(description, 45)
    assert "line one line two" in lines[3]
    assert hub[-1] == {"q": ["busybox"], "n": ["25"]}
    assert cli("search", "--limit", "2", "--format", "{{.Name}}", "busybox").out == "busybox\nsomeone/busybox-tools\n"
    assert hub[-1]["n"] == ["2"]
    assert cli("search", "--filter", "stars=10", "--format", "{{.Name}}", "busybox").out == \
        "busybox\nsomeone/busybox-tools\n"
    assert cli("search", "-f", "is-official=true", "--format", "{{.Name}} {{.StarCount}}", "busybox").out == \
        "busybox 3200\n"
    rows = [json.loads(line) for line in cli("search", "--no-trunc", "--format", "json", "busybox").out.splitlines()]
    assert rows[1]["Description"].endswith("docker keeps") and rows[0]["IsOfficial"] == "[OK]"


def test_search_refuses_bad_filters_and_limits_in_one_line(cli, hub):
    bad = cli("search", "--filter", "colour=red", "busybox")
    assert bad.code == 2 and bad.err == "layerlab: invalid filter 'colour'\n"
    assert cli("search", "--limit", "101", "busybox").err == "layerlab: limit 101 is outside the range of [1, 100]\n"
    assert hub == []
