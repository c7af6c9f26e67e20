"""Predictions on the Build panel: which steps would rebuild if a file or an arg changed, shown in the gutter.

``p`` on the Build panel opens a picker (a context file, or an ARG and a new value); the engine's
``predict`` answers from the builder's own cache keys in a worker, and the gutter shows each step
``↺`` would rebuild (with the reason) or ``✓`` (dimmed) would stay cached. Nothing is built. The
prediction lies over the last build's marks until ``escape``, ``p`` again, or the next build.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work
from textual.binding import Binding

from layerlab.engine.errors import LayerlabError
from layerlab.tui.widgets.build_state import BuildState, StepState

if TYPE_CHECKING:
    from layerlab.engine.builder.predict import Change, Prediction
    from layerlab.engine.builder.request import BuildRequest

# The gutter's marks for a prediction, beside the build's own (see ``build.MARKS``).
PREDICTION_MARKS = {"would-rebuild": "↺", "would-keep": "✓"}
PREDICTION_COLOURS = {"would-rebuild": "gutter-rebuilt", "would-keep": "gutter-cached"}
PREDICT_BINDINGS = [
    Binding("p", "predict", "Predict", id="build.predict",
            tooltip="Pick a file or a build arg: the gutter shows which steps would rebuild, and why"),
    Binding("escape", "clear_prediction", "Clear prediction", id="build.clear_prediction",
            tooltip="Show the last build's marks again", show=False),
]


def prediction_state(prediction: "Prediction", shown: BuildState) -> BuildState:
    """The marks of ``prediction`` as a BuildState (the build's ``previous_marks`` kept for its flips)."""
    state = BuildState(previous_marks=dict(shown.previous_marks))
    for step in prediction.steps:
        if step.outcome == "base":
            mark = "would-rebuild" if step.causes else "base"
        else:
            mark = "would-rebuild" if step.outcome == "miss" else "would-keep"
        reason = step.reason if mark == "would-rebuild" else ""
        if mark == "would-rebuild" and not step.by_change and step.outcome != "base":
            reason += " (rebuilds anyway)"
        state.steps[step.step.index] = StepState(step.step.index, step.step.dockerfile_line,
                                                 step.step.instruction, mark=mark, reason=reason)
    lines = [str(step.step.dockerfile_line) for step in prediction.rebuilt() if step.step.dockerfile_line]
    kept = sum(1 for step in prediction.steps if step.outcome == "hit")
    rebuilt = f"line{'s' if len(lines) != 1 else ''} {', '.join(lines)} would rebuild" if lines else \
        "nothing would rebuild"
    notes = "; ".join(prediction.notes)
    state.status = (f"predicted (nothing built): if {prediction.change.describe()}: {rebuilt}, {kept} stay cached"
                    + (f"; {notes}" if notes else "") + "  ·  esc clears")
    return state


class ShowsPredictions:
    """Mixed into the Build panel: ``p`` picks a change, the gutter shows the prediction.

    The panel answers ``prediction_request`` (what it would build); the app's panel asks the app.
    """

    build: BuildState
    hidden_build: BuildState | None = None   # the build's marks while a prediction is shown

    def prediction_request(self) -> "BuildRequest | None":
        request = getattr(self.app, "build_request", None)  # type: ignore[attr-defined]
        return request() if request is not None else None

    def action_predict(self) -> None:
        from layerlab.tui.screens.predict_picker import PredictPicker

        request = self.prediction_request()
        if request is None or self.app.catalog is None:  # type: ignore[attr-defined]
            self.app.notify("no build context open: layerlab tui CONTEXT", severity="warning")  # type: ignore
            return
        if self.hidden_build is not None:
            self.action_clear_prediction()

        def picked(change: "Change | None") -> None:
            if change is not None:
                self.predict(request, change)

        self.app.push_screen(PredictPicker(request), picked)  # type: ignore[attr-defined]

    @work(thread=True, exclusive=True, exit_on_error=False, group="predict", description="prediction")
    def predict(self, request: "BuildRequest", change: "Change") -> None:
        try:
            prediction = self.app.catalog.predict(request, change)  # type: ignore[attr-defined]
        except LayerlabError as error:
            self.app.call_from_thread(self.prediction_failed, error.one_line())  # type: ignore[attr-defined]
            return
        self.app.call_from_thread(self.show_prediction, prediction)  # type: ignore[attr-defined]

    def prediction_failed(self, text: str) -> None:
        self.app.notify(f"prediction failed: {text}", severity="error", timeout=30)  # type: ignore[attr-defined]
        self.build.status = f"prediction failed: {text}"
        self.redraw()  # type: ignore[attr-defined]

    def show_prediction(self, prediction: "Prediction") -> None:
        if self.hidden_build is None:
            self.hidden_build = self.build
        self.build = prediction_state(prediction, self.hidden_build)
        self.redraw()  # type: ignore[attr-defined]

    def action_clear_prediction(self) -> None:
        if self.hidden_build is not None:
            self.build, self.hidden_build = self.hidden_build, None
            self.redraw()  # type: ignore[attr-defined]

    def forget_prediction(self) -> None:
        """A build starts: its marks replace the prediction, and its flips compare with the last build's."""
        if self.hidden_build is not None:
            self.build, self.hidden_build = self.hidden_build, None
