"""Step keys and CREATED BY strings in the classic builder's shape."""

from __future__ import annotations

from layerlab.engine.builder.cache_key import (
    StepInputs, copy_command, created_by, nop_command, nop_command_string, run_build_args, run_command,
)


def test_created_by_strings_match_docker_history():
    # `docker history --no-trunc` of a DOCKER_BUILDKIT=0 build with --build-arg W=w
    args = run_build_args({"V": "1.0", "W": "w", "E": "2", "UNSET": None}, env=("PATH=/bin", "E=1"))
    assert args == {"V": "1.0", "W": "w"}
    assert created_by(run_command("echo $V", build_args=args)) == "|2 V=1.0 W=w /bin/sh -c echo $V"
    assert created_by(run_command(["echo", "x"], build_args=args)) == "|2 V=1.0 W=w echo x"
    assert created_by(run_command("make")) == "/bin/sh -c make"
    assert created_by(nop_command("ENV K=v L=a b")) == "/bin/sh -c #(nop)  ENV K=v L=a b"
    assert created_by(nop_command('CMD ["sh"]')) == '/bin/sh -c #(nop)  CMD ["sh"]'
    assert created_by(nop_command_string("WORKDIR /app")) == "/bin/sh -c #(nop) WORKDIR /app"
    digest = "file:00ec16333078d287782d462baefc8bb9eb0231dc3aefba3ca3e2f7e5cf0cadda"
    assert created_by(copy_command("COPY", digest, "/app/")) == f"/bin/sh -c #(nop) COPY {digest} in /app/ "
    assert created_by(copy_command("COPY", digest, "/b", chown="1:2")) == \
        f"/bin/sh -c #(nop) COPY --chown=1:2{digest} in /b "
    assert run_command("x", shell=("/bin/bash", "-eo", "pipefail", "-c")) == ("/bin/bash", "-eo", "pipefail", "-c", "x")


def inputs(**overrides) -> StepInputs:
    base = dict(dockerfile="Dockerfile", stage="0", position=2, index=2, instruction="RUN make",
                parent="sha256:" + "1" * 64, command=run_command("make"), env=("PATH=/bin",),
                config={"WorkingDir": "/"})
    return StepInputs(**(base | overrides))


def test_key_depends_on_what_docker_compares_and_nothing_else():
    key = inputs().key()
    assert key.startswith("sha256:") and len(key) == 71
    assert inputs().key() == key
    assert inputs(parent="sha256:" + "2" * 64).key() != key
    assert inputs(command=run_command("make -j2")).key() != key
    assert inputs(command=run_command("make", build_args={"V": "1"})).key() != key
    assert inputs(env=("PATH=/usr/bin",)).key() != key
    assert inputs(config={"WorkingDir": "/app"}).key() != key
    # where the step sits and how it was written do not matter, only what it does
    assert inputs(position=5, index=9, stage="other", dockerfile="x/Dockerfile").key() == key
    assert inputs(instruction="RUN  make").key() == key


def test_inputs_round_trip_through_json(tmp_path):
    from layerlab.engine.builder.context import BuildContext

    (tmp_path / "a").write_text("a")
    source = BuildContext(tmp_path).sources(["a"])
    step = inputs(instruction="COPY a /", command=copy_command("COPY", source.digest, "/"),
                  source_digest=source.digest, sources=source.files, build_args={"V": "1"}, parent_step=1)
    assert StepInputs.from_json(step.to_json()) == step
    assert StepInputs.from_json(step.to_json()).key() == step.key()
