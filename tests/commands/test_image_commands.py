from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from layerlab.engine.store import Store
from tests.transports.helpers import small_image


@pytest.fixture
def store(root: Path):
    with Store.open(root) as opened:
        yield opened


@pytest.fixture
def two_images(store):
    old = store.put_image(small_image({"a": b"1"}, created="2020-01-01T00:00:00Z", labels={"tier": "base"}),
                          tags=["example/base:1"])
    new = store.put_image(small_image({"a": b"1"}, {"b": b"2"}, created="2024-01-01T00:00:00Z"),
                          tags=["example/app:latest", "example/app:v2"])
    return old, new


def test_images_table_like_docker(cli, two_images) -> None:
    old, new = two_images
    result = cli("images")
    assert result.code == 0
    lines = result.out.splitlines()
    assert re.match(r"^REPOSITORY {3,}TAG {3,}IMAGE ID {3,}CREATED {3,}SIZE$", lines[0])
    assert [line.split()[:3] for line in lines[1:]] == [
        ["example/app", "latest", new.id.short], ["example/app", "v2", new.id.short],
        ["example/base", "1", old.id.short]]
    # columns line up: every row has TAG where the header has it
    tag_column = lines[0].index("TAG")
    assert all(line[tag_column - 1] == " " and line[tag_column] != " " for line in lines[1:])


def test_images_quiet_no_trunc_format_and_json(cli, two_images) -> None:
    old, new = two_images
    assert cli("images", "-q").out.split() == [new.id.short, new.id.short, old.id.short]
    assert str(old.id) in cli("images", "--no-trunc").out
    assert cli("images", "--format", "{{.Repository}}:{{.Tag}}").out.split() == [
        "example/app:latest", "example/app:v2", "example/base:1"]
    rows = [json.loads(line) for line in cli("images", "--format", "{{json .}}").out.splitlines()]
    assert rows[-1]["ID"] == old.id.short and rows[-1]["Repository"] == "example/base"
    table = cli("images", "--format", "table {{.ID}}\t{{.Tag}}").out.splitlines()
    assert table[0].split() == ["IMAGE", "ID", "TAG"]


def test_images_filters(cli, two_images, store) -> None:
    old, new = two_images
    ids = lambda *args: set(cli("images", "-q", *args).out.split())
    assert ids("--filter", "label=tier=base") == {old.id.short}
    assert ids("--filter", "label=tier") == {old.id.short}
    assert ids("--filter", "before=example/app:v2") == {old.id.short}
    assert ids("--filter", "since=example/base:1") == {new.id.short}
    assert ids("--filter", "reference=example/b*") == {old.id.short}
    assert ids("example/app") == {new.id.short}
    assert ids("--filter", "dangling=true") == set()
    store.untag("example/base:1")
    assert ids("--filter", "dangling=true") == {old.id.short}
    assert "<none>" in cli("images").out
    bad = cli("images", "--filter", "color=red")
    assert bad.code != 0 and "invalid filter" in bad.err and "Traceback" not in bad.err


def test_tag_and_rmi_rules(cli, two_images, store) -> None:
    old, new = two_images
    assert cli("tag", "example/base:1", "mine:x").code == 0
    assert store.resolve("mine:x") == old.id
    # removing one of several tags only untags
    result = cli("rmi", "example/app:v2")
    assert result.code == 0 and result.out.strip() == "Untagged: example/app:v2"
    assert store.resolve("example/app:latest") == new.id
    # by ID with several tags: refused without -f
    refused = cli("rmi", old.id.short)
    assert refused.code == 1 and "referenced in multiple repositories" in refused.err
    forced = cli("rmi", "-f", old.id.short)
    assert forced.code == 0 and f"Deleted: {old.id}" in forced.out
    assert {r.id for r in store.images()} == {new.id}
    missing = cli("rmi", "nope:1")
    assert missing.code == 1 and "nope" in missing.err


def test_history_and_inspect(cli, two_images) -> None:
    _, new = two_images
    lines = cli("history", "example/app").out.splitlines()
    assert lines[0].split()[:2] == ["IMAGE", "CREATED"] and "COMMENT" in lines[0]
    assert lines[1].startswith(new.id.short) and "step 1" in lines[1]
    assert lines[2].startswith("<missing>") and "step 0" in lines[2]
    assert cli("history", "-q", "example/app").out.split() == [new.id.short, "<missing>"]
    rows = [line.split("|") for line in cli("history", "--format", "{{.CreatedBy}}|{{.Size}}", "example/app").out.splitlines()]
    assert [created_by for created_by, _ in rows] == ["step 1", "step 0"]
    assert all(re.fullmatch(r"[0-9.]+k?B", size) for _, size in rows)
    data = json.loads(cli("inspect", "example/app").out)
    assert data[0]["Id"] == str(new.id)
    assert data[0]["RepoTags"] == ["example/app:latest", "example/app:v2"]
    assert data[0]["RootFS"]["Layers"] == [str(l.diff_id) for l in new.layers()]
    assert data[0]["Config"]["Cmd"] == ["sh"] and data[0]["Os"] == "linux"
    assert cli("inspect", "-f", "{{.Id}} {{json .Config.Cmd}}", "example/app").out == f'{new.id} ["sh"]\n'
    missing = cli("inspect", "ghost")
    assert missing.code == 1 and "layerlab: no such image: ghost" in missing.err


def test_image_group_and_prune(cli, two_images, store) -> None:
    old, new = two_images
    assert cli("image", "ls", "-q").out.split() == cli("images", "-q").out.split()
    store.untag("example/base:1")
    asked = cli("image", "prune", stdin=b"n\n")
    assert asked.code == 0 and "Are you sure" in asked.out
    assert old.id in {r.id for r in store.images()}
    pruned = cli("image", "prune", "-f")
    assert pruned.code == 0 and f"deleted: {old.id}" in pruned.out and "Total reclaimed space:" in pruned.out
    assert {r.id for r in store.images()} == {new.id}
    everything = cli("image", "prune", "-a", "-f")
    assert everything.code == 0 and not store.images()
