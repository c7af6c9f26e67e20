"""The cache across repeated builds through the real CLI: the hit/miss pattern and the reason for every miss."""

from __future__ import annotations

import os
import time

from tests.build.conftest import cache_pattern, json_events, reasons, write_context

DOCKERFILE = """FROM busybox
ARG VERSION=1.0
COPY src/ /app/src/
RUN cat /app/src/app.py > /app/built.txt
RUN echo "$VERSION" > /app/version.txt
CMD ["sh"]
"""


def build_json(cli, context, *extra) -> str:
    result = cli("build", "--progress", "json", *extra, str(context))
    assert result.code == 0, result.err
    return result.out


def test_edits_flip_exactly_the_steps_docker_would_and_say_why(cli, base, tmp_path):
    context = write_context(tmp_path / "ctx", DOCKERFILE, {"src/app.py": "print(1)\n", "src/run.sh": "echo\n",
                                                          "notes.md": "x", ".dockerignore": "notes.md\n"})
    first = build_json(cli, context)
    assert cache_pattern(first) == "MMMMM"
    assert set(reasons(first)) == {"first build of this step"}
    assert cache_pattern(build_json(cli, context)) == "HHHHH"

    app = context / "src" / "app.py"
    os.utime(app, (time.time() + 100, time.time() + 100))  # mtime only: still a hit
    assert cache_pattern(build_json(cli, context)) == "HHHHH"

    (context / "notes.md").write_text("ignored by .dockerignore")
    assert cache_pattern(build_json(cli, context)) == "HHHHH"

    app.write_text("print(2)\n")
    out = build_json(cli, context)
    assert cache_pattern(out) == "HMMMM"
    assert reasons(out)[1] == "src/app.py: content changed"
    assert reasons(out)[2] == "parent (line 3, COPY) was rebuilt"

    (context / "src" / "run.sh").chmod(0o755)
    out = build_json(cli, context)
    assert cache_pattern(out) == "HMMMM"
    assert reasons(out)[1] == "src/run.sh: mode 0644 → 0755"

    out = build_json(cli, context, "--build-arg", "VERSION=1.1")
    assert cache_pattern(out) == "HHMMM"
    assert reasons(out)[2] == "ARG VERSION: 1.0 → 1.1"

    out = build_json(cli, context, "--no-cache", "--build-arg", "VERSION=1.1")
    assert cache_pattern(out) == "MMMMM" and set(reasons(out)) == {"--no-cache"}

    (context / "Dockerfile").write_text(DOCKERFILE.replace("> /app/built.txt", ">> /app/built.txt"))
    out = build_json(cli, context, "--build-arg", "VERSION=1.1")
    assert cache_pattern(out) == "HHMMM"
    assert reasons(out)[2].startswith('instruction changed: "RUN cat /app/src/app.py > /app/built.txt" → ')


def test_records_persist_across_processes_and_explain_names_them(cli_process, cli, base, tmp_path):
    context = write_context(tmp_path / "ctx", "FROM busybox\nRUN echo hi > /hi.txt\n")
    first = cli_process("build", "--progress", "plain", "-t", "hi", str(context))
    assert first.returncode == 0, first.stderr
    assert b"Successfully tagged hi" in first.stdout and b"#2 DONE" in first.stdout
    second = cli_process("build", "--progress", "plain", "--explain", str(context))
    assert second.returncode == 0, second.stderr
    text = second.stdout.decode()
    assert "#2 CACHED" in text
    explain = [line for line in text.splitlines() if line.startswith("[2/2] RUN echo hi > /hi.txt")]
    assert len(explain) == 1 and "CACHED" in explain[0] and "reused record sha256:" in explain[0]


def test_a_removed_cached_image_is_rebuilt_with_a_reason(cli, base, tmp_path):
    context = write_context(tmp_path / "ctx", "FROM busybox\nRUN echo hi > /hi.txt\n")
    events = json_events(build_json(cli, context, "-t", "victim"))
    image_id = [e for e in events if e["type"] == "build.end"][0]["image_id"]
    assert cli("rmi", "victim").code == 0
    out = build_json(cli, context)
    assert cache_pattern(out) == "M"
    assert reasons(out) == [f"cached image {image_id.split(':')[1][:12]} was removed from the store"]


def test_json_stream_shape(cli, base, tmp_path):
    context = write_context(tmp_path / "ctx", "FROM busybox\nRUN echo out; echo err >&2\n")
    events = json_events(build_json(cli, context))
    kinds = [e["type"] for e in events]
    assert kinds[0] == "build.start" and kinds[-1] == "build.end"
    logs = {(e["stream"], e["line"]) for e in events if e["type"] == "step.log"}
    assert logs == {("stdout", "out"), ("stderr", "err")}
    end = [e for e in events if e["type"] == "step.end" and e["position"] == 2][0]
    assert end["cache"] == "miss" and end["instruction"] == "RUN echo out; echo err >&2"
    assert end["layer_size"] == 0 and end["dockerfile_line"] == 2
