"""Where the classic builder differs from BuildKit, layerlab follows the classic builder."""

from __future__ import annotations

from layerlab.engine.store import Store
from tests.build.conftest import write_context


def built(cli, root, context, *extra):
    result = cli("build", "-q", *extra, str(context))
    assert result.code == 0, result.err
    store = Store.open(root)
    return store, store.image(result.out.strip())


def test_env_beats_a_later_arg_of_the_same_name(cli, root, base, tmp_path):
    context = write_context(tmp_path / "ctx", """FROM busybox
ARG A=a-default
ENV B=$A PATH=/env-path:/bin
ARG B=arg-b
ARG PATH=/arg-path
LABEL b=$B path=$PATH
RUN echo "$B $PATH" > /out.txt
""")
    store, image = built(cli, root, context, "--build-arg", "A=from-cli")
    labels = image.config.data["config"]["Labels"]
    assert labels == {"b": "from-cli", "path": "/env-path:/bin"}
    assert (store.merged_tree(image) / "out.txt").read_text() == "from-cli /env-path:/bin\n"
    # shadowed args stay out of the RUN's CREATED BY
    assert image.config.history[-1].created_by == '|1 A=from-cli /bin/sh -c echo "$B $PATH" > /out.txt'


def test_expose_history_keeps_ports_as_written_and_sorted(cli, root, base, tmp_path):
    context = write_context(tmp_path / "ctx", """FROM busybox
ARG WEB="80 81"
EXPOSE 443/tcp $WEB 53/UDP
""")
    _, image = built(cli, root, context)
    # sorted before expansion, as the classic parser does: "$WEB" sorts first
    assert image.config.history[-1].created_by == "/bin/sh -c #(nop)  EXPOSE 80 81 443/tcp 53/UDP"
    assert image.config.data["config"]["ExposedPorts"] == {"80/tcp": {}, "81/tcp": {}, "443/tcp": {}, "53/udp": {}}


def test_shell_entry_runs_under_the_new_shell(cli, root, base, tmp_path):
    context = write_context(tmp_path / "ctx", """FROM busybox
SHELL ["/bin/sh", "-e", "-c"]
SHELL ["/bin/sh", "-c"]
""")
    _, image = built(cli, root, context)
    assert [h.created_by for h in image.config.history[-2:]] == [
        "/bin/sh -e -c #(nop)  SHELL [/bin/sh -e -c]", "/bin/sh -c #(nop)  SHELL [/bin/sh -c]"]


def test_run_as_a_named_user_has_its_primary_group_among_its_groups(cli, root, base, tmp_path):
    context = write_context(tmp_path / "ctx", r"""FROM busybox
RUN echo "app:x:1000:1001::/home/app:/bin/sh" >> /etc/passwd \
 && printf "staff:x:1001:\nextra:x:900:app\nother:x:1500:root\n" >> /etc/group
USER app
RUN grep Groups /proc/self/status > /tmp/implicit
USER app:other
RUN grep Groups /proc/self/status > /tmp/explicit
USER root
RUN grep Groups /proc/self/status > /tmp/root
""")
    store, image = built(cli, root, context)
    rootfs = store.merged_tree(image)

    def groups(name: str) -> list[str]:
        return (rootfs / "tmp" / name).read_text().split()[1:]

    # what Docker 20.10 gives each (read from its own builds of this Dockerfile)
    assert groups("implicit") == ["900", "1001"]
    assert groups("explicit") == ["1500"]
    assert groups("root") == ["0", "1500"]


def test_run_after_volume_sees_the_content_but_its_writes_there_are_dropped(cli, root, base, tmp_path):
    context = write_context(tmp_path / "ctx", """FROM busybox
RUN mkdir -p /data && echo before > /data/before.txt && chmod 0750 /data
VOLUME /data /logs
RUN cat /data/before.txt > /seen.txt && echo after > /data/after.txt && echo log > /logs/log.txt \\
 && stat -c %a /data > /data-mode.txt
""")
    store, image = built(cli, root, context)
    rootfs = store.merged_tree(image)
    assert (rootfs / "seen.txt").read_text() == "before\n"
    assert (rootfs / "data-mode.txt").read_text() == "750\n"  # the volume is a copy of the directory
    assert sorted(p.name for p in (rootfs / "data").iterdir()) == ["before.txt"]
    # the new volume's mount point is in the RUN's layer, empty, root 0755
    assert (rootfs / "logs").is_dir() and not any((rootfs / "logs").iterdir())
    assert oct((rootfs / "logs").stat().st_mode & 0o7777) == oct(0o755)


def test_volume_over_a_file_fails_the_next_run(cli, root, base, tmp_path):
    context = write_context(tmp_path / "ctx", """FROM busybox
RUN touch /afile
VOLUME /afile
RUN true
""")
    result = cli("build", str(context))
    assert result.code != 0
    assert "Dockerfile:4" in result.err and "cannot mount volume over existing file" in result.err
    assert "Traceback" not in result.err


def test_a_lone_heredoc_runs_its_body(cli, root, base, tmp_path):
    context = write_context(tmp_path / "ctx", """FROM busybox
RUN <<EOT
echo one > /plain.txt
echo "$0" >> /plain.txt
EOT
RUN <<-EOT
\tmkdir -p /chomped && echo tabs > /chomped/file.txt
\tEOT
RUN <<'EOT'
#!/bin/sh -e
echo "script $0" > /script.txt
EOT
RUN <<EOT cat > /fed.txt
fed to cat
EOT
""")
    store, image = built(cli, root, context)
    rootfs = store.merged_tree(image)
    assert (rootfs / "plain.txt").read_text() == "one\n/bin/sh\n"
    assert (rootfs / "chomped" / "file.txt").read_text() == "tabs\n"
    # a #! body runs as its own program, from a read-only file that never reaches the image
    assert (rootfs / "script.txt").read_text() == "script /dev/pipes/EOT\n"
    assert not (rootfs / "dev" / "pipes").exists()
    # a heredoc with a command is still that command's stdin
    assert (rootfs / "fed.txt").read_text() == "fed to cat\n"


def test_layerlab_run_gives_a_user_the_same_groups_as_a_build_step(cli, root, base, tmp_path):
    context = write_context(tmp_path / "ctx", r"""FROM busybox
RUN echo "app:x:1000:1001::/home/app:/bin/sh" >> /etc/passwd \
 && printf "staff:x:1001:\nextra:x:900:app\n" >> /etc/group
""")
    built(cli, root, context, "-t", "groups:1")[0].close()
    result = cli("run", "--rm", "-u", "app", "groups:1", "grep", "Groups", "/proc/self/status")
    assert result.code == 0, result.err
    assert result.out.split()[1:] == ["900", "1001"]
