"""KEY=VALUE options as Docker reads them."""

from __future__ import annotations

import pytest

from layerlab.engine.errors import UsageError
from layerlab.cli.keyvalues import key_values


def test_pairs_bare_names_from_the_environment_and_errors(monkeypatch):
    monkeypatch.setenv("FROM_ENV", "yes")
    monkeypatch.delenv("NOT_SET", raising=False)
    assert key_values(["A=1", "B=x=y", "FROM_ENV", "NOT_SET", "A=2"], "--build-arg") == {
        "A": "2", "B": "x=y", "FROM_ENV": "yes"}
    with pytest.raises(UsageError, match="-e '=v': expected KEY=VALUE"):
        key_values(["=v"], "-e")
