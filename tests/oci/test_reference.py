from __future__ import annotations

import pytest
from hypothesis import assume, given, strategies as st

from layerlab.engine.errors import InvalidReference
from layerlab.engine.reference import Reference

HEX = "a" * 64


@pytest.mark.parametrize("text, full, familiar", [
    ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
    ("library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("index.docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("user/app:v1", "docker.io/user/app:v1", "user/app:v1"),
    ("localhost/app", "localhost/app:latest", "localhost/app:latest"),
    ("localhost:5000/a/b:t", "localhost:5000/a/b:t", "localhost:5000/a/b:t"),
    ("127.0.0.1:5000/app", "127.0.0.1:5000/app:latest", "127.0.0.1:5000/app:latest"),
    (f"busybox@sha256:{HEX}", f"docker.io/library/busybox@sha256:{HEX}", f"busybox@sha256:{HEX}"),
    (f"busybox:1@sha256:{HEX}", f"docker.io/library/busybox:1@sha256:{HEX}", f"busybox:1@sha256:{HEX}"),
    ("a-b.c/e", "a-b.c/e:latest", "a-b.c/e:latest"),
    ("my-app__x.y", "docker.io/library/my-app__x.y:latest", "my-app__x.y:latest"),
])
def test_normalizes_like_docker(text, full, familiar):
    ref = Reference.parse(text)
    assert str(ref) == full
    assert ref.familiar == familiar


def test_digest_reference_gets_no_default_tag():
    ref = Reference.parse(f"busybox@sha256:{HEX}")
    assert ref.tag is None and str(ref.digest) == f"sha256:{HEX}"


def test_parts():
    ref = Reference.parse("localhost:5000/team/app:2")
    assert (ref.domain, ref.path, ref.tag, ref.repository, ref.familiar_name) == (
        "localhost:5000", "team/app", "2", "localhost:5000/team/app", "localhost:5000/team/app")


@pytest.mark.parametrize("text, says", [
    ("", "empty"),
    ("Busybox", "lowercase"),
    ("busybox:", "tag"),
    ("busybox:-x", "tag"),
    ("busy box", "busy box"),
    (HEX, "64-byte hexadecimal"),
    ("busybox@sha256:abc", "digest"),
    ("a//b", "a//b"),
    ("a_b.c/e", "invalid registry"),
    ("-a/b", "-a/b"),
    ("x:" + "t" * 129, "tag"),
])
def test_invalid_references_name_the_text(text, says):
    with pytest.raises(InvalidReference) as info:
        Reference.parse(text)
    assert says in str(info.value)


_component = st.from_regex(r"[a-z0-9]{1,5}(?:[._-][a-z0-9]{1,4})?", fullmatch=True)


@given(domain=st.sampled_from(["", "localhost:5000/", "registry.example.com/", "docker.io/"]),
       path=st.lists(_component, min_size=1, max_size=3),
       tag=st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,10}", fullmatch=True))
def test_parse_of_printed_forms_round_trips(domain, path, tag):
    # docker.io/a.b/c displays as "a.b/c", which reads back as registry a.b: ambiguous in Docker too.
    assume(not (domain == "docker.io/" and len(path) > 1 and "." in path[0]))
    ref = Reference.parse(f"{domain}{'/'.join(path)}:{tag}")
    assert Reference.parse(str(ref)) == ref
    assert Reference.parse(ref.familiar) == ref
    assert ref.tag == tag
