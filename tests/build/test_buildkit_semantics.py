"""``build --semantics buildkit``: BuildKit's history rows, comment, layers and config, on our own store.
(tests/build_conformance compares the same against real BuildKit.)"""

from __future__ import annotations

import json
import tarfile

from layerlab.engine.store import Store
from tests.build.conftest import write_context

DOCKERFILE = """FROM busybox
ARG V=1
ENV K=v L="x y"
RUN echo $V > /v
COPY a.txt /dst/
WORKDIR /dst
USER 1234:5678
WORKDIR /made/by/user
EXPOSE 80 90/UDP
CMD ["sh"]
ONBUILD RUN echo later
"""


def test_buildkit_history_layers_and_config(cli, root, base, tmp_path):
    context = write_context(tmp_path / "ctx", DOCKERFILE)
    (context / "a.txt").write_text("a\n")
    result = cli("build", "-q", "--semantics", "buildkit", "--build-arg", "V=2", "-t", "bk:1", str(context))
    assert result.code == 0, result.err
    with Store.open(root) as store:
        image = store.image("bk:1")
        base_rows = len(store.image(base).config.history)
        data = image.config.data
        rows = data["history"][base_rows:]
        assert [(row["created_by"], row.get("empty_layer", False)) for row in rows] == [
            ("ARG V=1", True),
            ("ENV K=v L=x y", True),
            ("RUN |1 V=2 /bin/sh -c echo $V > /v # buildkit", False),
            ("COPY a.txt /dst/ # buildkit", False),
            ("WORKDIR /dst", False),                     # the directory exists: an empty tar, still a layer
            ("USER 1234:5678", True),
            ("WORKDIR /made/by/user", False),
            ("EXPOSE map[80/tcp:{} 90/udp:{}]", True),
            ('CMD ["sh"]', True),
        ]                                                # ONBUILD: no row
        assert {row["comment"] for row in rows} == {"buildkit.dockerfile.v0"}
        assert data["config"]["ArgsEscaped"] is True and data["config"]["OnBuild"] == ["RUN echo later"]
        assert "container_config" not in data
        assert {record.id: record.parent for record in store.images()}[image.id] is None   # no Parent
        layers = image.layers()
        assert len(layers) == len(store.image(base).layers()) + 4
        assert str(layers[-2].diff_id) == "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"
    listing = cli("files", "bk:1")
    made = [line.split() for line in listing.out.splitlines() if line.split()[-1].startswith("/made")]
    assert [(row[2], row[-1]) for row in made] == [("1234:5678", "/made"), ("1234:5678", "/made/by"),
                                                   ("1234:5678", "/made/by/user")]


def test_classic_and_buildkit_results_do_not_share_cache(cli, base, tmp_path):
    context = write_context(tmp_path / "ctx", "FROM busybox\nRUN echo one > /one\n")
    assert cli("build", "-q", "-t", "c:1", str(context)).code == 0
    again = cli("build", "--progress", "plain", "--semantics", "buildkit", "-t", "k:1", str(context))
    assert again.code == 0 and "CACHED" not in again.out
    history = cli("history", "--no-trunc", "--format", "{{.CreatedBy}}", "k:1").out.splitlines()
    assert history[0] == "RUN /bin/sh -c echo one > /one # buildkit"


def test_a_chmod_on_a_source_directory_misses_and_says_buildkit_would_not(cli, base, tmp_path):
    context = write_context(tmp_path / "ctx", "FROM busybox\nCOPY src /src\n", {"src/a.txt": "a\n"})
    (context / "src").chmod(0o755)
    assert cli("build", "-q", "--semantics", "buildkit", "-t", "chm:1", str(context)).code == 0
    (context / "src").chmod(0o700)
    again = cli("build", "--progress", "json", "--semantics", "buildkit", "-t", "chm:1", str(context))
    assert again.code == 0, again.err
    events = [json.loads(line) for line in (again.out + again.err).splitlines() if line.startswith("{")]
    copy = next(e for e in events if e.get("type") == "step.end" and e.get("dockerfile_line") == 2)
    assert copy["cache"] == "miss" and "moby/buildkit#7176" in copy["reason"], copy


def test_a_run_keeps_its_mount_directories_as_buildkit_does(cli, root, base, tmp_path):
    """Seen with docker 20.10's BuildKit: a tmpfs, cache or directory bind target stays in the RUN's
    layer as a directory (parents too); a secret or file bind leaves only its parent directories."""
    secret = tmp_path / "token"
    secret.write_text("s3\n")
    context = write_context(tmp_path / "ctx", """FROM busybox
RUN --mount=type=secret,id=tok --mount=type=tmpfs,target=/scratch/deep \\
    --mount=type=bind,source=file.txt,target=/opt/bound/file.txt --mount=type=cache,target=/var/cache/thing \\
    cat /run/secrets/tok > /dev/null
""", {"file.txt": "y\\n"})
    result = cli("build", "-q", "--semantics", "buildkit", "--secret", f"id=tok,src={secret}", "-t", "mnt:1",
                 str(context))
    assert result.code == 0, result.err
    with Store.open(root) as store:
        image = store.image("mnt:1")
        with image.layers()[-1].open_uncompressed() as blob:
            names = sorted(member.name.rstrip("/") for member in tarfile.open(fileobj=blob, mode="r|"))
    assert names == ["opt", "opt/bound", "run", "run/secrets", "scratch", "scratch/deep", "var", "var/cache",
                     "var/cache/thing"]


def test_hostname_variable_is_the_classic_builders_alone(cli, root, base, tmp_path):
    """Docker's daemon gives a classic RUN ``HOSTNAME`` (its container's name); BuildKit sets none."""
    # env, not $HOSTNAME: the shell defines that variable itself, unexported
    context = write_context(tmp_path / "ctx", 'FROM busybox\nRUN (env | grep ^HOSTNAME= || true) > /h && hostname >> /h\n')
    seen = {}
    for semantics in ("classic", "buildkit"):
        result = cli("build", "-q", "--semantics", semantics, "-t", f"host:{semantics}", str(context))
        assert result.code == 0, result.err
        with Store.open(root) as store:
            seen[semantics] = (store.merged_tree(store.image(f"host:{semantics}")) / "h").read_text().split()
    variable, name = seen["classic"]
    assert variable == f"HOSTNAME={name}" and len(name) == 12
    assert len(seen["buildkit"]) == 1                 # the host name alone
