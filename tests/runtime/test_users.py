"""USER resolution from the image's own passwd and group files, through the layer stack."""

from __future__ import annotations

from pathlib import Path

import pytest

from layerlab.engine.errors import NotFound
from layerlab.engine.runtime.users import resolve_user


@pytest.fixture
def stack(tmp_path: Path) -> list[Path]:
    base, top = tmp_path / "base", tmp_path / "top"
    (base / "etc").mkdir(parents=True)
    (top / "etc").mkdir(parents=True)
    (base / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\nold:x:5:5::/:/bin/sh\n")
    # A later layer replaces passwd: the stack's view is the top one.
    (top / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n")
    (top / "etc" / "group").write_text("root:x:0:\napp:x:1000:\nwheel:x:10:app\naudio:x:29:other,app\n")
    return [base, top]


@pytest.mark.parametrize("user, expected", [
    ("", (0, 0, [])),
    ("root", (0, 0, [])),
    ("app", (1000, 1000, [10, 29])),
    ("1000", (1000, 1000, [10, 29])),
    ("4242", (4242, 0, [])),
    ("app:wheel", (1000, 10, [])),
    ("app:77", (1000, 77, [])),
    ("4242:4242", (4242, 4242, [])),
])
def test_users_resolve_like_docker(stack, user, expected):
    resolved = resolve_user(user, stack)
    assert (resolved.uid, resolved.gid, resolved.additional_gids) == expected


def test_unknown_names_are_not_found(stack):
    with pytest.raises(NotFound, match="unable to find user old"):
        resolve_user("old", stack)
    with pytest.raises(NotFound, match="unable to find group staff"):
        resolve_user("app:staff", stack)


def test_member_gids_are_the_group_file_alone_in_its_order(stack):
    """BuildKit's supplementary groups: the rows listing the user, as written, the primary one only when
    listed (Docker 20.10's daemon always adds it); none when USER names a group."""
    top = stack[1] / "etc" / "group"
    top.write_text("root:x:0:\naudio:x:29:other,app\napp:x:1000:app\nwheel:x:10:app\n")
    assert resolve_user("app", stack).member_gids == [29, 1000, 10]
    assert resolve_user("app", stack).docker_gids == [10, 29, 1000]
    assert resolve_user("1000", stack).member_gids == [29, 1000, 10]
    assert resolve_user("app:wheel", stack).member_gids == []
    assert resolve_user("4242", stack).member_gids == []
