"""One number per layer: History's Layer column, the Files title and the waste list agree with the CLI
(a layer's place among the image's layers, from 0; a history entry that made no layer has none)."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Label, Static

from layerlab.engine.api.layer_files import image_analysis
from layerlab.tui.messages import ImageSelected, LayerSelected
from tests.tui.test_flow import SIZE, column, plain, wait_for

pytestmark = pytest.mark.anyio


async def test_history_files_and_waste_name_a_layer_by_the_same_number(make_app, store):
    app = make_app()
    messages = []
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        app.post_message(ImageSelected("demo/app:1.0"))
        history = app.query_one("#history-table", DataTable)
        await wait_for(pilot, lambda: history.row_count == 5)
        # ADD (layer 0), CMD (none), COPY (layer 1), ENV (none), RUN (layer 2)
        assert [text.strip() for text in column(history, "index")] == ["0", "", "1", "", "2"]
        waste = app.query_one("#waste-summary", Static)
        await wait_for(pilot, lambda: "offenders" in plain(waste.content))
        # data.bin is shipped by the COPY and removed by the RUN: the numbers History shows
        assert "shipped by layer 1" in plain(waste.content) and "by layer 2" in plain(waste.content)
        history.focus()
        history.move_cursor(row=2)  # COPY app /app
        await pilot.press("enter")
        assert {m.layer_index for m in messages if isinstance(m, LayerSelected)} == {1}
        title = app.query_one("#files-title", Label)
        await wait_for(pilot, lambda: str(title.render()).startswith("layer 1"))
    # `layerlab layers` (the same analysis) gives that layer the same number
    summaries = image_analysis(store.image("demo/app:1.0")).summaries()
    assert [s.index for s in summaries if s.instruction.startswith("COPY app")] == [1]
