"""Fixtures for the scikit-learn instrumentation: fitted real estimators."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_iris, make_regression

from otel_ml.config import Settings
from otel_ml.instrumentation.sklearn import SklearnInstrumentor


@pytest.fixture(scope="session")
def iris() -> tuple[np.ndarray, np.ndarray]:
    data = load_iris()
    return data.data, data.target


@pytest.fixture(scope="session")
def regression() -> tuple[np.ndarray, np.ndarray]:
    return make_regression(n_samples=60, n_features=3, noise=0.1, random_state=0)


@pytest.fixture
def instrument(telemetry: Any) -> Iterator[Any]:
    """``instrument(**kwargs)`` with the test's providers and an empty environment;
    uninstrumented after the test."""
    instrumentor = SklearnInstrumentor()

    def run(**kwargs: Any) -> SklearnInstrumentor:
        kwargs.setdefault("settings", Settings.load(environ={}))
        instrumentor.instrument(**telemetry.providers, **kwargs)
        return instrumentor

    yield run
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()
