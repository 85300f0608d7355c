"""Fixtures of the FastAPI one-liner tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from otel_ml.instrumentation.fastapi import Instrumentation


@pytest.fixture
def handles() -> Iterator[list[Instrumentation]]:
    """Instrumentation handles a test made; each is undone afterwards."""
    made: list[Instrumentation] = []
    yield made
    for handle in made:
        handle.uninstrument()
