"""Small command-line findings: each bad input is one line and a non-zero exit, names print safely."""

from __future__ import annotations

import json
import os

import pytest

from layerlab.engine.registry.auth import DockerConfig
from tests.build.conftest import json_events, write_context

pytestmark = pytest.mark.peers


def test_a_bad_tag_is_refused_before_any_step_runs(cli, base, tmp_path):
    context = write_context(tmp_path / "ctx", "FROM busybox\nRUN true\n")
    result = cli("build", "--progress", "json", "--network", "none", "-t", "Foo:bar", str(context))
    assert result.code != 0 and "must be lowercase" in result.err
    assert not [event for event in json_events(result.out) if event["type"].startswith("step")]


def test_an_unclosed_template_action_is_an_error(cli, base):
    result = cli("images", "--format", "{{")
    assert result.code != 0 and result.out == ""
    assert result.err.startswith("layerlab: ") and "unclosed action" in result.err


@pytest.mark.parametrize("ci", [["--ci"], []], ids=["with-ci", "without-ci"])
def test_a_missing_ci_config_is_an_error(cli, base, tmp_path, ci):
    result = cli("analyze", "busybox", *ci, "--ci-config", str(tmp_path / "missing.yaml"))
    assert result.code != 0 and "missing.yaml" in result.err and result.out == ""


def test_a_ci_config_given_is_judged_by(cli, base, tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  lowestEfficiency: 1.01\n")   # no image can pass
    result = cli("analyze", "busybox", "--ci-config", str(rules))
    assert result.code == 1 and "lowestEfficiency" in result.out + result.err


def test_inspect_of_a_missing_image_says_so_in_our_one_line_form(cli, base):
    result = cli("inspect", "no-such-image")
    assert result.code == 1
    assert result.err == "layerlab: no such image: no-such-image\n"


def test_files_and_diff_escape_control_characters_in_names(cli, base, tmp_path):
    context = write_context(tmp_path / "ctx", 'FROM busybox\nRUN touch "/x$(printf "\\nFAKE")" "/t$(printf "\\t")end"\n')
    built = cli("build", "-q", "--network", "none", "-t", "names", str(context))
    assert built.code == 0, built.err
    files = cli("files", "names").out.splitlines()
    assert any(line.endswith("/x\\nFAKE") for line in files) and not any(line == "FAKE" for line in files)
    assert cli("diff", "busybox", "names").out.splitlines() == ["A /t\\tend", "A /x\\nFAKE"]
    assert "A /x\\nFAKE" in cli("diff", "names", "--layer", "1").out.splitlines()


def test_login_writes_through_a_symlinked_config(tmp_path):
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    (dotfiles / "docker.json").write_text('{"psFormat": "table {{.ID}}"}\n')
    config_dir = tmp_path / "docker"
    config_dir.mkdir()
    (config_dir / "config.json").symlink_to(dotfiles / "docker.json")
    config = DockerConfig(config_dir)
    config.save({**config.load(), "auths": {"127.0.0.1:5000": {"auth": "dTpw"}}})
    assert (config_dir / "config.json").is_symlink()
    written = json.loads((dotfiles / "docker.json").read_text())
    assert written["psFormat"] == "table {{.ID}}" and "127.0.0.1:5000" in written["auths"]
    assert os.stat(dotfiles / "docker.json").st_mode & 0o777 == 0o600


def test_an_iidfile_in_a_missing_directory_is_one_line(cli, base, tmp_path):
    context = write_context(tmp_path / "ctx", "FROM busybox\nLABEL a=b\n")
    result = cli("build", "-q", "--iidfile", str(tmp_path / "no" / "such" / "iid"), str(context))
    assert result.code != 0
    assert len(result.err.strip().splitlines()) == 1 and "Traceback" not in result.err
    assert "no/such/iid" in result.err
