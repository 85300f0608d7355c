"""The demo's model: a scikit-learn classifier on the breast cancer data that ships
with scikit-learn, and the drift reference profile of its training split.

The data set has 30 numeric measurements and no categorical feature, so the demo
adds one: ``site``, the (synthetic) hospital that sent the sample, drawn at
random from three sites. The model sees it one-hot encoded (``DictVectorizer``),
so a new site shows up as an unseen category in the drift and data-quality
telemetry. Rows travel as JSON objects, ``{"mean radius": 14.2, ..., "site":
"north"}``, and need neither pandas nor a column order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from otel_ml.drift.profile import ReferenceProfile

MODEL_NAME = "breast-cancer-classifier"
MODEL_VERSION = "1"
SITE = "site"
SITES = ("north", "south", "east")
SITE_WEIGHTS = (0.5, 0.3, 0.2)
# The drift phase: a new site joins, and its scanner reads one texture
# measurement 2.5 times too high. The model never saw either; on these rows
# its accuracy falls from 0.99 to about 0.78.
NEW_SITE = "west"
SHIFTED_FEATURE = "worst texture"
SHIFT_FACTOR = 2.5

Row = dict[str, Any]


@dataclass(frozen=True)
class DemoModel:
    """The fitted model, its reference profile and the rows traffic is drawn from."""

    model: Pipeline
    feature_names: list[str]
    rows: list[Row]
    labels: list[str]
    baseline_accuracy: float
    reference: ReferenceProfile


def train(seed: int = 7) -> DemoModel:
    """Fit ``DictVectorizer -> StandardScaler -> LogisticRegression`` on a 70% split.

    The reference profile is fit on the training split with the model's own
    predictions and confidences (``__prediction__``, ``__score__``), and carries
    the held-out accuracy as ``baseline_accuracy``.

    Traffic replays training rows, not held-out ones: with 398 reference rows
    and 171 held-out rows, the plain sampling difference between the two
    already reaches the drift thresholds on most features in a window of 500
    values, and the demo's normal phase would look drifted.
    """
    data = load_breast_cancer()
    names = [str(name) for name in data.feature_names]
    rng = np.random.default_rng(seed)
    sites = rng.choice(SITES, size=len(data.target), p=SITE_WEIGHTS)
    records = [
        {**dict(zip(names, map(float, row), strict=True)), SITE: str(site)}
        for row, site in zip(data.data, sites, strict=True)
    ]
    labels = [str(data.target_names[t]) for t in data.target]
    train_rows, test_rows, train_labels, test_labels = train_test_split(
        records, labels, test_size=0.3, random_state=seed, stratify=labels
    )
    model = make_pipeline(
        DictVectorizer(sparse=False), StandardScaler(), LogisticRegression(max_iter=1000)
    )
    model.fit(train_rows, train_labels)
    baseline = float(model.score(test_rows, test_labels))
    probabilities = model.predict_proba(train_rows)
    reference = ReferenceProfile.fit(
        train_rows,
        feature_names=[*names, SITE],
        predictions=model.classes_[probabilities.argmax(axis=1)].tolist(),
        scores=probabilities.max(axis=1),
        metadata={
            "baseline_accuracy": round(baseline, 4),
            "data": "scikit-learn breast cancer, training split, synthetic site",
        },
    )
    return DemoModel(model, [*names, SITE], train_rows, train_labels, baseline, reference)


def drifted(row: Row) -> Row:
    """The row as the new site sends it: another site, one feature scaled."""
    return {**row, SITE: NEW_SITE, SHIFTED_FEATURE: row[SHIFTED_FEATURE] * SHIFT_FACTOR}


def broken(row: Row) -> Row:
    """A client bug: a measurement sent as NaN. The model rejects the row."""
    return {**row, "mean radius": float("nan")}
