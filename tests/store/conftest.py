from __future__ import annotations

import pytest

from layerlab.engine.store import Store


@pytest.fixture
def store(root):
    with Store.open(root) as opened:
        yield opened
