"""Fixtures for the scikit-learn instrumentation: fitted real estimators."""

from __future__ import annotations

import numpy as np
import pytest
from hook_support import instrument_fixture
from sklearn.datasets import load_iris, make_regression

from otel_ml.instrumentation.sklearn import SklearnInstrumentor


@pytest.fixture(scope="session")
def iris() -> tuple[np.ndarray, np.ndarray]:
    data = load_iris()
    return data.data, data.target


@pytest.fixture(scope="session")
def regression() -> tuple[np.ndarray, np.ndarray]:
    return make_regression(n_samples=60, n_features=3, noise=0.1, random_state=0)


instrument = instrument_fixture(SklearnInstrumentor)
