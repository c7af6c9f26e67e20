"""Miss reasons from two sets of inputs, without a store."""

from __future__ import annotations

from layerlab.engine.builder.cache_key import StepInputs, run_command
from layerlab.engine.builder.context import FileEntry
from layerlab.engine.builder.reasons import diff_files, explain_hit, explain_miss, summary


def entry(path, kind="file", mode=0o644, uid=0, gid=0, size=3, link="", checksum="c1") -> FileEntry:
    return FileEntry(path, kind, mode, uid, gid, size, link, checksum)


def test_file_differences_are_named_one_per_path():
    before = {"a": entry("a"), "b": entry("b"), "l": entry("l", "symlink", 0o777, size=0, link="a"),
              "m": entry("m"), "gone": entry("gone")}
    after = {"a": entry("a", checksum="c2"), "b": entry("b", mode=0o4755, uid=1, gid=2, checksum="c3"),
             "l": entry("l", "symlink", 0o777, size=0, link="b", checksum="c4"),
             "m": entry("m", size=5, mode=0o600, checksum="c5"), "new": entry("new")}
    texts = [cause.text for cause in diff_files(before, after)]
    assert texts == [
        "a: content changed",
        "b: mode 0644 → 4755, owner 0:0 → 1:2",
        "gone: removed",
        "l: link target a → b",
        "m: mode 0644 → 0600, content changed",
        "new: added",
    ]


def inputs(**kw) -> StepInputs:
    base = dict(dockerfile="Dockerfile", stage="0", position=3, index=3, instruction="RUN make",
                parent="sha256:" + "1" * 64, parent_step=2, parent_line=4, parent_keyword="COPY", command=run_command("make"), env=("A=1",))
    return StepInputs(**(base | kw))


def test_several_causes_come_most_fundamental_first():
    previous = inputs(build_args={"V": "1"})
    current = inputs(parent="sha256:" + "2" * 64, instruction="RUN make -j2", build_args={"V": "2", "W": "x"},
                     env=("A=2",), config={"User": "app"})
    causes = explain_miss(current, previous, parent_rebuilt=True)
    assert [c.text for c in causes] == [
        "parent (line 4, COPY) was rebuilt",
        'instruction changed: "RUN make" → "RUN make -j2"',
        "ARG V: 1 → 2",
        "ARG W: (unset) → x",
        "ENV A: 1 → 2",
        "config User: (unset) → app",
    ]
    assert summary(causes) == 'parent (line 4, COPY) was rebuilt; instruction changed: "RUN make" → "RUN make -j2"; ' \
                              "ARG V: 1 → 2; +3 more"


def test_forced_first_and_unexplained():
    assert [c.kind for c in explain_miss(inputs(), inputs(), forced="--no-cache")] == ["no-cache"]
    assert [c.text for c in explain_miss(inputs(), None)] == ["first build of this step"]
    # same inputs as an earlier record yet no hit: that record was pruned
    assert [c.kind for c in explain_miss(inputs(), inputs())] == ["key"]
    moved = explain_miss(inputs(command=("sh", "-c", "make")), inputs())
    assert moved[0].text == 'cache key changed: "/bin/sh -c make" → "sh -c make"'
    parent_other = explain_miss(inputs(parent="sha256:" + "3" * 64), inputs(), parent_rebuilt=False)
    assert parent_other[0].text == "parent (line 4, COPY) changed: sha256:111111111111 → sha256:333333333333"


def test_hit_names_the_record():
    text = explain_hit("sha256:" + "ab" * 32, "sha256:" + "cd" * 32, 0.0)
    assert text == "reused record sha256:abababababab → sha256:cdcdcdcdcdcd (built 1970-01-01T00:00:00Z)"
