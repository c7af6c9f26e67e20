"""What the Build panel knows of the last build: each step's mark, reason and timing, by Dockerfile line.

Marks are kept by line number, so when the Dockerfile's text changes they
are carried to where their lines went (``BuildState.follow_edit``); a mark
whose line was edited or deleted is dropped rather than left on whatever
line now has its number.
"""

from __future__ import annotations

from difflib import SequenceMatcher

from layerlab.engine.record_type import field, record


@record
class StepState:
    step: int
    line: int
    instruction: str
    mark: str = "running"  # running, cached, rebuilt, failed, base (a FROM: neither cached nor built)
    reason: str = ""
    seconds: float | None = None
    size: int | None = None
    flip: str = ""  # "cached → rebuilt" or "rebuilt → cached": the verdict changed since the previous build


@record
class BuildState:
    steps: dict[int, StepState] = field(default_factory=dict)
    previous_marks: dict[int, str] = field(default_factory=dict)  # line -> mark of the last build
    status: str = ""
    # A failure no step owns (the Dockerfile did not parse): its line and message.
    failed_line: int = 0
    failure: str = ""

    def by_line(self) -> dict[int, StepState]:
        marks = {state.line: state for state in self.steps.values()}
        if self.failed_line:
            marks[self.failed_line] = StepState(0, self.failed_line, "", mark="failed", reason=self.failure)
        return marks

    def follow_edit(self, old_text: str, new_text: str) -> None:
        """Move every mark to its line's new number; drop marks whose line changed or went away."""
        moved = moved_lines(old_text, new_text)
        for number, state in list(self.steps.items()):
            if state.line in moved:
                state.line = moved[state.line]
            else:
                del self.steps[number]
        self.previous_marks = {moved[line]: mark for line, mark in self.previous_marks.items() if line in moved}
        self.failed_line = moved.get(self.failed_line, 0)  # an edited line may be the fix; the next build says
        if not self.failed_line:
            self.failure = ""


def moved_lines(old_text: str, new_text: str) -> dict[int, int]:
    """1-based old line number -> new line number, for each line the edit left as it was."""
    old, new = old_text.splitlines(), new_text.splitlines()
    moved: dict[int, int] = {}
    for block in SequenceMatcher(None, old, new, autojunk=False).get_matching_blocks():
        for offset in range(block.size):
            moved[block.a + offset + 1] = block.b + offset + 1
    return moved
