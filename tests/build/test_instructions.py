"""Each instruction's effect on the config and the history, as the classic builder writes them."""

from __future__ import annotations

import io
import os
import tarfile


from layerlab.engine.store import Store
from tests.build.conftest import write_context


def built(cli, root, context, *extra):
    result = cli("build", "-q", *extra, str(context))
    assert result.code == 0, result.err
    store = Store.open(root)
    image = store.image(result.out.strip())
    return store, image


def test_metadata_instructions_config_and_history(cli, root, base, tmp_path):
    context = write_context(tmp_path / "ctx", """FROM busybox
MAINTAINER someone <a@b.c>
ARG VERSION=1.0
ENV APP_HOME=/srv/app MODE=$VERSION
LABEL org.example.version=$VERSION other="two words"
WORKDIR $APP_HOME
WORKDIR sub
USER nobody
EXPOSE 8080 53/udp
VOLUME ["/data", "/cache"]
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5m --timeout=3s --retries=3 CMD wget -q localhost
ENTRYPOINT ["sh", "-c"]
""")
    store, image = built(cli, root, context, "--label", "cli=yes")
    config = image.config.data["config"]
    assert config["Env"] == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                             "APP_HOME=/srv/app", "MODE=1.0"]
    assert config["Labels"] == {"org.example.version": "1.0", "other": "two words", "cli": "yes"}
    assert config["WorkingDir"] == "/srv/app/sub"
    assert config["User"] == "nobody"
    assert config["ExposedPorts"] == {"8080/tcp": {}, "53/udp": {}}
    assert config["Volumes"] == {"/data": {}, "/cache": {}}
    assert config["StopSignal"] == "SIGINT"
    assert config["Healthcheck"] == {"Test": ["CMD-SHELL", "wget -q localhost"], "Interval": 300 * 10**9,
                                     "Timeout": 3 * 10**9, "Retries": 3}
    assert config["Entrypoint"] == ["sh", "-c"]
    assert config["Cmd"] is None  # ENTRYPOINT drops the base's CMD
    assert image.config.author == "someone <a@b.c>"
    created_by = [h.created_by for h in image.config.history][2:]
    assert created_by == [
        "/bin/sh -c #(nop)  MAINTAINER someone <a@b.c>",
        "/bin/sh -c #(nop)  ARG VERSION=1.0",
        "/bin/sh -c #(nop)  ENV APP_HOME=/srv/app MODE=1.0",
        "/bin/sh -c #(nop)  LABEL org.example.version=1.0 other=two words",
        "/bin/sh -c #(nop) WORKDIR /srv/app",
        "/bin/sh -c #(nop) WORKDIR /srv/app/sub",
        "/bin/sh -c #(nop)  USER nobody",
        "/bin/sh -c #(nop)  EXPOSE 53/udp 8080",  # sorted as written, no /tcp added
        "/bin/sh -c #(nop)  VOLUME [/data /cache]",
        "/bin/sh -c #(nop)  STOPSIGNAL SIGINT",
        '/bin/sh -c #(nop)  HEALTHCHECK &{["CMD-SHELL" "wget -q localhost"] "5m0s" "3s" "0s" \'\\x03\'}',
        '/bin/sh -c #(nop)  ENTRYPOINT ["sh" "-c"]',
        "/bin/sh -c #(nop)  LABEL cli=yes",
    ]
    # WORKDIR commits the directories it creates (two layers); every other instruction is config only
    assert [h.created_by for h in image.config.history[1:] if not h.empty_layer] == [
        "/bin/sh -c #(nop) WORKDIR /srv/app", "/bin/sh -c #(nop) WORKDIR /srv/app/sub"]
    assert len(image.layers()) == 3
    # every step is an image whose parent is the step before, as the classic builder leaves them
    chain, current = [], image
    while current.parent is not None:
        chain.append(current)
        current = store.image(str(current.parent))
    assert len(chain) == 13 and str(current.id) == str(store.resolve("busybox"))
    assert image.config.data["container_config"]["Cmd"] == ["/bin/sh", "-c", "#(nop) ", "LABEL cli=yes"]
    assert config["Image"] == str(chain[1].id)


def test_cmd_after_entrypoint_is_kept_and_shell_form_uses_shell(cli, root, base, tmp_path):
    context = write_context(tmp_path / "ctx", """FROM busybox
CMD echo "$HOME"
ENTRYPOINT ["/bin/sh", "-c"]
SHELL ["/bin/sh", "-xc"]
RUN echo shell-form
CMD echo again
""")
    _, image = built(cli, root, context)
    config = image.config.data["config"]
    assert config["Cmd"] == ["/bin/sh", "-xc", "echo again"]
    assert config["Entrypoint"] == ["/bin/sh", "-c"]
    assert config["Shell"] == ["/bin/sh", "-xc"]
    history = [h.created_by for h in image.config.history]
    assert history[2] == '/bin/sh -c #(nop)  CMD ["/bin/sh" "-c" "echo \\"$HOME\\""]'
    # the classic builder switches shells first, so SHELL's own entry already runs under the new one
    assert history[4] == "/bin/sh -xc #(nop)  SHELL [/bin/sh -xc]"
    assert history[5] == "/bin/sh -xc echo shell-form"


def test_arg_and_env_precedence_in_run(cli, root, base, tmp_path):
    context = write_context(tmp_path / "ctx", """FROM busybox
ARG WHO=default
ARG SHADOW=from-arg
ENV SHADOW=from-env
RUN echo "$WHO $SHADOW" > /out.txt
""")
    store, image = built(cli, root, context, "--build-arg", "WHO=cli")
    assert (store.merged_tree(image) / "out.txt").read_text() == "cli from-env\n"
    # only the unshadowed arg is in the RUN's CREATED BY, with its value
    assert image.config.history[-1].created_by == '|1 WHO=cli /bin/sh -c echo "$WHO $SHADOW" > /out.txt'
    assert "WHO=cli" not in image.config.data["config"]["Env"]


def test_workdir_commits_a_layer_creating_the_directory_and_a_run_that_changes_nothing_adds_none(
        cli, root, base, tmp_path):
    context = write_context(tmp_path / "ctx", """FROM busybox
RUN true
RUN chmod 0700 /tmp
WORKDIR /tmp/newdir/sub
WORKDIR /bin
RUN pwd > where.txt
""")
    store, image = built(cli, root, context)
    history = image.config.history
    assert [h.empty_layer for h in history[2:]] == [True, False, False, True, False]
    assert len(image.layers()) == 4
    rootfs = store.merged_tree(image)
    assert (rootfs / "bin" / "where.txt").read_text() == "/bin\n"
    assert oct((rootfs / "tmp" / "newdir").stat().st_mode & 0o7777) == oct(0o755)
    assert oct((rootfs / "tmp" / "newdir" / "sub").stat().st_mode & 0o7777) == oct(0o755)
    # the existing parent is copied up with its own mode, not made 0755
    assert oct((rootfs / "tmp").stat().st_mode & 0o7777) == oct(0o700)
    workdir_layer = image.layers()[2]
    names = sorted(m.name for m in tarfile.open(fileobj=io.BytesIO(store.blobs.read(workdir_layer.digest))))
    assert names == ["tmp", "tmp/newdir", "tmp/newdir/sub"]


def test_run_recreates_a_removed_workdir_through_a_symlink(cli, root, base, tmp_path):
    context = write_context(tmp_path / "ctx", """FROM busybox
RUN mkdir /real && ln -s /real /link
WORKDIR /link/made
RUN rmdir /real/made
RUN pwd > /here.txt
""")
    store, image = built(cli, root, context)
    rootfs = store.merged_tree(image)
    assert (rootfs / "here.txt").read_text() == "/real/made\n"  # the kernel reports the physical path
    assert (rootfs / "real" / "made").is_dir() and (rootfs / "link").is_symlink()


def test_workdir_over_a_file_fails_naming_the_step(cli, root, base, tmp_path):
    context = write_context(tmp_path / "ctx", """FROM busybox
RUN touch /afile
WORKDIR /afile
""")
    result = cli("build", str(context))
    assert result.code != 0
    assert "Dockerfile:3" in result.err and "/afile is not a directory" in result.err
    assert "Traceback" not in result.err


def test_user_name_resolved_for_run_and_chown(cli, root, base, tmp_path):
    context = write_context(tmp_path / "ctx", """FROM busybox
COPY --chown=nobody:nobody a.txt /a.txt
USER nobody
RUN id -u > /tmp/uid
""", {"a.txt": "a"})
    store, image = built(cli, root, context)
    rootfs = store.merged_tree(image)
    assert (rootfs / "tmp" / "uid").read_text() == "65534\n"
    import tarfile

    with image.layers()[1].open_uncompressed() as blob:
        members = {m.name: m for m in tarfile.open(fileobj=blob, mode="r|")}
    assert (members["a.txt"].uid, members["a.txt"].gid) == (65534, 65534)
    assert image.config.history[2].created_by.startswith("/bin/sh -c #(nop) COPY --chown=nobody:nobodyfile:")


def test_onbuild_triggers_run_in_the_child_only(cli, root, base, tmp_path):
    parent = write_context(tmp_path / "parent", """FROM busybox
ONBUILD RUN echo triggered > /trigger.txt
""")
    assert cli("build", "-q", "-t", "withtrigger", str(parent)).code == 0
    child = write_context(tmp_path / "child", "FROM withtrigger\nRUN cat /trigger.txt\n")
    store, image = built(cli, root, child)
    assert (store.merged_tree(image) / "trigger.txt").read_text() == "triggered\n"
    assert image.config.data["config"]["OnBuild"] == []
    assert store.image("withtrigger").config.data["config"]["OnBuild"] == ["RUN echo triggered > /trigger.txt"]
    assert "/bin/sh -c echo triggered > /trigger.txt" in [h.created_by for h in image.config.history]


def test_copy_moves_its_staged_tree_into_the_next_snapshot_exactly(cli, root, base, tmp_path):
    # The COPY's snapshot is made by moving the staged files, not by unpacking the tar written
    # from them; fsck rebuilds every snapshot from its blob and compares shape and contents.
    context = write_context(tmp_path / "ctx", "FROM busybox\nCOPY tree/ /etc/\nCOPY tree /opt/tree\n"
                                              "COPY --chown=7:8 tree/a.txt /srv/a.txt\n")
    tree = context / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_text("a\n")
    (tree / "sub" / "b.sh").write_text("#!/bin/sh\n")
    (tree / "sub" / "b.sh").chmod(0o4755)
    os.symlink("a.txt", tree / "link")
    os.link(tree / "a.txt", tree / "hard.txt")
    tree.chmod(0o750)
    result = cli("build", "-q", "-t", "adopted", str(context))
    assert result.code == 0, result.err
    with Store.open(root) as store:
        image = store.image("adopted")
        top = store.root / "snapshots" / image.layers()[-1].chain_id.hex
        assert (top / "snapshot.json").is_file()  # made by the build itself, before anything asked for it
        rootfs = store.merged_tree(image)
        assert (rootfs / "opt/tree/sub/b.sh").read_text() == "#!/bin/sh\n"
        assert os.readlink(rootfs / "etc/link") == "a.txt"
        assert os.stat(rootfs / "srv/a.txt").st_uid == 7
        assert (rootfs / "etc/passwd").is_file()  # the base's files are still there
        assert store.fsck() == []


def test_an_imported_base_without_env_gets_docker_default_path(cli, root, tmp_path):
    import gzip

    from layerlab.engine.store import Store
    from tests.transports.helpers import layer_tar

    rootfs = tmp_path / "rootfs.tar.gz"
    rootfs.write_bytes(gzip.compress(layer_tar({"hello": b"hi\n"})))
    assert cli("import", str(rootfs), "bare:1").code == 0
    with Store.open(root) as store:
        assert store.image("bare:1").config.config.env in (None, [])
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM bare:1\nENV WHERE=$PATH\n")
    result = cli("build", "-q", "-t", "onbare:1", str(context))
    assert result.code == 0, result.err
    default = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    with Store.open(root) as store:
        assert store.image("onbare:1").config.config.env == [f"PATH={default}", f"WHERE={default}"]
