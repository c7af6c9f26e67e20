"""Interop: the files our .dockerignore matcher keeps are the files Docker sends to a build."""

from __future__ import annotations

import io
import tarfile
import uuid

import pytest

from layerlab.engine.dockerfile.dockerignore import Matcher, read_ignore_file

pytestmark = pytest.mark.peers

FILES = [
    "README.md", "README-secret.md", "CHANGELOG.md", "docs/guide.md", "docs/img/logo.png",
    "src/main.go", "src/util/helper.go", "src/util/helper_test.go", "src/temp", "src/tempfile.txt",
    "a/b/temporary.txt", "a/b/c/temp.txt", "tempa", "tempab", "build/out/app", "build/keep/important.txt",
    "node_modules/lib/index.js", "node_modules/keep/x.js", "logs/2024.log", "logs/keep.log",
    "file1.txt", "filea.txt", "star*.txt", "dot.env", ".env", ".git/HEAD", "nested/.git/config",
]
IGNORE = """\
# comment line
*.md
!README*.md
README-secret.md
*/temp*
*/*/temp*
temp?
/build
!build/keep
node_modules
!node_modules/keep/x.js
logs/*.log
!logs/keep.log
file[0-9].txt
star\\*.txt
./dot.env
.git
**/*_test.go
"""


def test_docker_sends_exactly_the_files_we_keep(docker, tmp_path):
    context = tmp_path / "context"
    for name in FILES:
        path = context / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
    (context / ".dockerignore").write_text(IGNORE)
    (context / "Dockerfile").write_text("FROM scratch\nCOPY . /ctx/\n")

    tag = f"layerlab-test-dockerignore:{uuid.uuid4().hex[:12]}"
    docker.run("build", "-q", "-t", tag, str(context))
    container = docker.run("create", tag, "none").stdout.decode().strip()
    try:
        exported = docker.run("export", container).stdout
    finally:
        docker.run("rm", container, check=False)
        docker.run("rmi", tag, check=False)
    with tarfile.open(fileobj=io.BytesIO(exported)) as archive:
        sent = {m.name[len("ctx/"):] for m in archive.getmembers() if m.isfile() and m.name.startswith("ctx/")}

    matcher = Matcher(read_ignore_file(IGNORE))
    kept = {name for name in FILES if not matcher.matches(name)}
    assert kept == sent - {".dockerignore", "Dockerfile"}
    # The patterns did real work in both directions.
    assert "README-secret.md" not in kept and "README.md" in kept and "build/keep/important.txt" in kept
