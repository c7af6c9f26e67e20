"""The Build panel's marks follow their lines through an edit of the Dockerfile."""

from __future__ import annotations

from layerlab.tui.widgets.build_state import BuildState, StepState, moved_lines

OLD = "FROM busybox\nCOPY a /a\nRUN make\n"


def test_lines_left_as_they_were_keep_their_marks_under_new_numbers():
    assert moved_lines(OLD, "# top\n" + OLD) == {1: 2, 2: 3, 3: 4}
    assert moved_lines(OLD, "FROM busybox\nCOPY b /b\nRUN make\n") == {1: 1, 3: 3}


def test_an_edited_line_loses_its_mark_and_a_parse_failure_moves_or_goes():
    state = BuildState({1: StepState(1, 1, "FROM busybox", "base"), 2: StepState(2, 2, "COPY a /a", "cached"),
                        3: StepState(3, 3, "RUN make", "rebuilt")}, previous_marks={2: "cached"},
                       failed_line=3, failure="boom")
    state.follow_edit(OLD, "# top\nFROM busybox\nCOPY b /b\nRUN make\n")
    assert {number: s.line for number, s in state.steps.items()} == {1: 2, 3: 4}
    assert state.previous_marks == {}
    assert (state.failed_line, state.failure) == (4, "boom")
    assert state.by_line()[4].mark == "failed"
    state.follow_edit("# top\nFROM busybox\nCOPY b /b\nRUN make\n", "FROM busybox\n")
    assert (state.failed_line, state.failure) == (0, "")
