"""``predict`` against the real thing: for every lesson of every sample context, build, predict the
lesson's edit, make the edit, build again, and compare each step's predicted outcome with the real one."""

from __future__ import annotations

from pathlib import Path

import pytest

from layerlab.engine.api.building import build
from layerlab.engine.api.lessons import (LESSON_FILE, Lesson, LessonMark, apply_change, check, load_lessons,
                                         open_workspace, predicted_change, samples_dir)
from layerlab.engine.api.predicting import change_of, parse_change, predict, prediction_lines
from layerlab.engine.bootstrap import busybox_image
from layerlab.engine.builder.cache_records import CacheRecords
from layerlab.engine.builder.request import BuildRequest
from layerlab.engine.errors import NotFound
from layerlab.engine.record_type import replace
from layerlab.engine.events import discard
from layerlab.engine.store import Store
from tests.peers import need_program

LESSONS = load_lessons()


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    need_program("runc")
    store = Store.open(tmp_path_factory.mktemp("predict") / "root")
    store.put_image(busybox_image(), tags=["busybox:latest"])
    yield store
    store.close()


def lesson_request(lesson: Lesson, workspace: Path, build_args: dict[str, str] | None = None) -> BuildRequest:
    return BuildRequest(context_dir=workspace, dockerfile=lesson.dockerfile, network="none",
                        build_args=dict(lesson.build_args if build_args is None else build_args))


def test_every_sample_context_has_a_lesson():
    samples = [path for path in samples_dir().iterdir() if path.is_dir()]
    assert samples and all((path / LESSON_FILE).is_file() for path in samples)
    assert {lesson.sample for lesson in LESSONS} == set(samples)
    assert len({lesson.id for lesson in LESSONS}) == len(LESSONS)


@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson.id for lesson in LESSONS])
def test_prediction_matches_the_rebuild(store, tmp_path: Path, lesson: Lesson):
    workspace = open_workspace(lesson, tmp_path)
    request = lesson_request(lesson, workspace)
    build(store, request, discard)
    prediction = predict(store, request, predicted_change(lesson))
    apply_change(lesson, workspace)
    rebuilt = build(store, lesson_request(lesson, workspace, lesson.args_after()), discard)
    predicted = {step.step.dockerfile_line: step.outcome for step in prediction.steps if step.outcome != "base"}
    real = {step.step.dockerfile_line: step.cache for step in rebuilt.steps if step.cache != "base"}
    assert predicted == real, "\n".join(prediction_lines(prediction))
    # What the lesson says, the prediction and the real build both show.
    assert check(lesson, [LessonMark(s.step.dockerfile_line, s.cache, s.reason) for s in rebuilt.steps]) == []
    # A prediction names the file "would change" (its new content is not known yet): marks only.
    marks_only = replace(lesson, reasons={})
    assert check(marks_only, [LessonMark(s.step.dockerfile_line, s.outcome) for s in prediction.steps]) == []
    assert all(step.by_change for step in prediction.rebuilt())


def test_a_prediction_leaves_the_cache_as_it_was(store, tmp_path: Path):
    """Predicting VERSION=1.1 after a 1.1 build must not make the next 1.0 build's misses name 1.1."""
    lesson = next(lesson for lesson in LESSONS if lesson.change.build_arg)
    workspace = open_workspace(lesson, tmp_path)
    build(store, lesson_request(lesson, workspace, lesson.args_after()), discard)
    build(store, lesson_request(lesson, workspace), discard)
    with CacheRecords(store.root) as records:
        before = [(r.key, r.last_used) for r in records.records()]
    prediction = predict(store, lesson_request(lesson, workspace), predicted_change(lesson))
    assert prediction.rebuilt() == []  # 1.1 was built before: every step would be a hit
    with CacheRecords(store.root) as records:
        assert [(r.key, r.last_used) for r in records.records()] == before


def test_a_file_no_step_reads_or_dockerignore_excludes_rebuilds_nothing(store, tmp_path: Path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nCOPY app.txt /\nRUN cat /app.txt\n")
    (context / "app.txt").write_text("app\n")
    (context / "notes.md").write_text("notes\n")
    (context / "debug.log").write_text("log\n")
    (context / ".dockerignore").write_text("*.log\n")
    request = BuildRequest(context_dir=context, network="none")
    build(store, request, discard)
    prediction = predict(store, request, parse_change(["notes.md", "debug.log"], context))
    assert prediction.rebuilt() == []
    assert prediction.notes == ("debug.log: excluded by .dockerignore: no step sees it",
                                "notes.md: no step's cache key reads it")
    prediction = predict(store, request, parse_change([str(context / "app.txt")], context))
    assert [(s.step.dockerfile_line, s.reason) for s in prediction.rebuilt()] == [
        (2, "app.txt: would change"), (3, "parent (line 2, COPY) would be rebuilt")]


def test_a_step_that_would_rebuild_anyway_says_so(store, tmp_path: Path):
    context = tmp_path / "fresh"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nRUN echo never built > /x\n")
    prediction = predict(store, BuildRequest(context_dir=context), change_of())
    [step] = prediction.rebuilt()
    assert (step.reason, step.by_change) == ("first build of this step", False)


def test_bad_input_is_one_line(store, tmp_path: Path, cli, root: Path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\n")
    with pytest.raises(NotFound, match="nosuch.txt: no such file in the build context"):
        predict(store, BuildRequest(context_dir=context), change_of(paths=["nosuch.txt"]))
    result = cli("build", "--predict", "nosuch.txt", str(context))
    assert result.code != 0 and "Traceback" not in result.err
    assert "nosuch.txt: no such file in the build context" in result.err
    assert result.err.count("\n") == 1


def test_cli_predict_prints_the_table(cli, root: Path, tmp_path: Path):
    need_program("runc")
    store = Store.open(root)
    store.put_image(busybox_image(), tags=["busybox:latest"])
    store.close()
    lesson = next(lesson for lesson in LESSONS if lesson.id == "args")
    workspace = open_workspace(lesson, tmp_path)
    assert cli("build", "-q", "--network", "none", "--build-arg", "VERSION=1.0", str(workspace)).code == 0
    result = cli("build", "--build-arg", "VERSION=1.0", "--predict", "VERSION=1.1", str(workspace))
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == "if VERSION were 1.1 (nothing is built):"
    row = next(line for line in lines if "RUN echo \"version $VERSION\"" in line)
    assert "REBUILD" in row and "ARG VERSION: 1.0 → 1.1" in row
    assert "CACHED" in next(line for line in lines if "COPY notes.txt" in line)
    assert lines[-1] == "3 steps would rebuild, 3 would stay cached"
    result = cli("build", "--build-arg", "VERSION=1.0", "--predict", "VERSION=1.1", "--progress", "json",
                 str(workspace))
    import json

    data = json.loads(result.out)
    assert data["change"] == {"paths": [], "build_args": {"VERSION": "1.1"}}
    assert [s["outcome"] for s in data["steps"]] == ["base", "hit", "hit", "hit", "miss", "miss", "miss"]


def test_a_bad_lesson_file_is_one_clear_line(tmp_path: Path):
    from layerlab.engine.errors import UsageError

    sample = tmp_path / "broken"
    sample.mkdir()
    (sample / LESSON_FILE).write_text('[[lesson]]\nid = "x"\ntitle = "t"\nedit = "e"\n[lesson.change]\n'
                                      'file = "a"\nbuild_arg = "B"\n')
    with pytest.raises(UsageError, match=r"broken/lesson.toml: not a lesson file: .*a file or a build_arg"):
        load_lessons(tmp_path)
    (sample / LESSON_FILE).write_text("[[lesson]\n")
    with pytest.raises(UsageError, match=r"lesson.toml: not a lesson file: TOMLDecodeError"):
        load_lessons(tmp_path)


def test_a_file_read_by_a_step_that_misses_anyway_is_no_unread_file(store, tmp_path: Path):
    context = tmp_path / "new"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nCOPY app.txt /\n")
    (context / "app.txt").write_text(f"never built before: {tmp_path}\n")   # no record anywhere in the store
    prediction = predict(store, BuildRequest(context_dir=context), change_of(paths=["app.txt"]))
    [step] = prediction.rebuilt()
    assert step.reason == "first build of this step" and step.by_change
    assert prediction.notes == ()
