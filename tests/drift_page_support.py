"""A real model app for the drift page tests: iris plus a categorical column.

A scikit-learn pipeline (one-hot ``site``, logistic regression) serves batches
of rows from a FastAPI app; its reference profile is fit on the training rows.
``traffic`` makes batches, optionally drifted (longer petals, another site mix).
"""

from __future__ import annotations

import html.parser
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from fastapi import FastAPI
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

import otel_ml
from otel_ml.drift.profile import ReferenceProfile

MODEL = "iris-site"
VERSION = "3"
SITES = ("north", "south", "east")
PETAL = "petal length (cm)"


def _frame(rng: np.random.Generator, n: int, drifted: bool) -> pd.DataFrame:
    iris = load_iris(as_frame=True)
    rows = rng.integers(0, len(iris.data), n)
    frame = iris.data.iloc[rows].reset_index(drop=True)
    frame = frame + rng.normal(0, 0.05, frame.shape)  # distinct values, same distribution
    p = (0.1, 0.2, 0.7) if drifted else (0.5, 0.3, 0.2)
    frame["site"] = rng.choice(SITES, n, p=p)
    if drifted:
        frame[PETAL] += 1.5
    return frame


@lru_cache(maxsize=1)
def trained() -> tuple[Pipeline, ReferenceProfile]:
    """The fitted pipeline and the reference profile of its training rows (built once)."""
    rng = np.random.default_rng(7)
    train = _frame(rng, 3000, drifted=False)
    target = load_iris().target_names[rng.integers(0, 3, len(train))]
    encode = ColumnTransformer(
        [("site", OneHotEncoder(handle_unknown="ignore"), ["site"])], remainder="passthrough"
    )
    pipeline = Pipeline([("encode", encode), ("model", LogisticRegression(max_iter=500))])
    pipeline.fit(train, target)
    proba = pipeline.predict_proba(train)
    profile = ReferenceProfile.fit(
        train,
        scores=proba.max(axis=1),
        predictions=pipeline.classes_[proba.argmax(axis=1)],
        metadata={"source": "iris+site"},
    )
    return pipeline, profile


def traffic(batches: int, rows: int, drifted: bool, seed: int = 11) -> list[list[dict[str, Any]]]:
    """``batches`` JSON bodies of ``rows`` records each."""
    rng = np.random.default_rng(seed)
    return [_frame(rng, rows, drifted).to_dict(orient="records") for _ in range(batches)]


def model_app(providers: dict[str, Any]) -> FastAPI:
    """``POST /predict`` with a list of records; the model is wrapped with ``providers``."""
    pipeline, _ = trained()
    model = otel_ml.wrap_model(pipeline, MODEL, VERSION, **providers)
    app = FastAPI()

    @app.post("/predict")
    def predict(records: list[dict[str, Any]]) -> dict[str, list[str]]:
        proba = model.predict_proba(pd.DataFrame.from_records(records))
        return {"classes": [str(c) for c in pipeline.classes_[proba.argmax(axis=1)]]}

    return app


class PageParser(html.parser.HTMLParser):
    """What the drift page shows: feature cards, their chart bars and score cells."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.cards: list[dict[str, Any]] = []
        self.text: list[str] = []
        self._in: list[str] = []

    def handle_starttag(self, tag: str, attrs: Sequence[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        classes = (dict(attrs).get("class") or "").split()
        if tag == "article" and "feature" in classes:
            self.cards.append({"name": "", "ref": 0, "cur": 0, "svg": 0, "tds": []})
        elif self.cards:
            card = self.cards[-1]
            if tag == "svg":
                card["svg"] += 1
            elif tag == "rect" and classes and classes[0] in ("ref", "cur"):
                card[classes[0]] += 1
        if tag not in ("rect", "line", "meta"):  # void or self-closed
            self._in.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._in and self._in[-1] == tag:
            self._in.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if not self.cards or not self._in:
            return
        if self._in[-1] == "h4":
            self.cards[-1]["name"] += data
        elif self._in[-1] == "td":
            self.cards[-1]["tds"].append(data)


def parse_page(page: str) -> PageParser:
    """The page parsed (entities decoded, as a browser shows them)."""
    parser = PageParser()
    parser.feed(page)
    parser.close()
    return parser
