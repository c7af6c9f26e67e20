"""Predict on the Build panel: `p`, pick a file or an arg, and the gutter shows what would rebuild."""

from __future__ import annotations

import shutil
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from layerlab.engine import events
from layerlab.tui.messages import EngineEvent
from layerlab.tui.screens.predict_picker import PredictPicker
from tests.peers import need_program
from tests.tui.buildhelpers import SIZE, view_lines, wait_for

pytestmark = pytest.mark.anyio

REPO = Path(__file__).resolve().parents[2]


def sample(tmp_path: Path, name: str) -> Path:
    context = tmp_path / name
    shutil.copytree(REPO / "sample_contexts" / name, context)
    return context


async def open_picker(pilot) -> None:
    app = pilot.app
    await pilot.press("p")
    await wait_for(pilot, lambda: isinstance(app.screen, PredictPicker)
                   and app.screen.query_one("#predict-choices").option_count > 0)


@asynccontextmanager
async def picker_after_a_build(make_app, tmp_path: Path, name: str, size: tuple[int, int]):
    """The app over a copy of sample ``name``, built once, with the predict picker open."""
    need_program("runc")
    app = make_app(context=sample(tmp_path, name))
    finished: list = []
    async with app.run_test(size=size, message_hook=finishing(finished)) as pilot:
        await pilot.press("4", "b")
        await wait_for(pilot, lambda: len(finished) >= 1)
        await open_picker(pilot)
        yield pilot, finished


def finishing(finished: list):
    return lambda m: finished.append(m) if isinstance(m, EngineEvent) and isinstance(
        m.event, events.BuildFinished) else None


@pytest.mark.parametrize("size", [SIZE, (80, 24)])
async def test_predicting_a_file_marks_the_steps_that_would_rebuild(make_app, tmp_path: Path, size):
    async with picker_after_a_build(make_app, tmp_path, "hello", size) as (pilot, finished):
        app = pilot.app
        picker = app.screen.query_one("#predict-choices")
        ids = [picker.get_option_at_index(i).id for i in range(picker.option_count)]
        picker.highlighted = ids.index("file:greeting.txt")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "↺" in "".join(view_lines(app)))
        lines = view_lines(app)
        copy = next(line for line in lines if "COPY greeting.txt" in line)
        assert copy.lstrip().startswith("↺") and "greeting.txt: would change" in " ".join(lines)
        assert next(line for line in lines if "WORKDIR" in line).lstrip().startswith("✓")
        assert next(line for line in lines if "RUN echo" in line).lstrip().startswith("↺")
        status = str(app.query_one("#build-status").content)
        assert "predicted (nothing built)" in status and "would rebuild" in status
        # Nothing was built: the store has the one build's image, and escape brings its marks back.
        assert len({id(m) for m in finished}) == 1  # a message is seen once per node it bubbles through
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert "↺" not in "".join(view_lines(app))
        assert next(line for line in view_lines(app) if "COPY greeting.txt" in line).lstrip().startswith("↻")


async def test_predicting_an_arg_names_it(make_app, tmp_path: Path):
    async with picker_after_a_build(make_app, tmp_path, "args", SIZE) as (pilot, _finished):
        app = pilot.app
        await pilot.press("enter")  # the first choice is ARG VERSION: its name goes into the line
        await pilot.press("2", ".", "0", "enter")
        await wait_for(pilot, lambda: "↺" in "".join(view_lines(app)))
        lines = view_lines(app)
        run = next(line for line in lines if 'RUN echo "version' in line)
        assert run.lstrip().startswith("↺") and "ARG VERSION: 1.0 → 2.0" in run
        assert next(line for line in lines if "COPY notes.txt" in line).lstrip().startswith("✓")


async def test_a_bad_prediction_says_why(make_app, tmp_path: Path):
    context = sample(tmp_path, "hello")
    app = make_app(context=context)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4", "p")
        await wait_for(pilot, lambda: isinstance(app.screen, PredictPicker))
        app.screen.query_one("#predict-line").focus()
        await pilot.press(*"greeting.txt nosuch.txt", "enter")
        await wait_for(pilot, lambda: "prediction failed" in str(app.query_one("#build-status").content))
        assert "nosuch.txt: no such file in the build context" in str(app.query_one("#build-status").content)
