"""Fuzzed inputs through drift monitoring, ``record_feedback`` and the feedback route.

Hostile feature rows are data-quality issues, never failures of otel_ml;
junk labels are answered with an outcome (or, for a prediction id that is no
string, a ``TypeError`` naming it); hostile HTTP bodies get 200, 413 or 422,
never a 500.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from hostile_support import Unprintable, feature_rows, nested, scalars, values
from hypothesis import given
from hypothesis import strategies as st
from reliability_support import fuzz_settings, serving
from support import Telemetry

import otel_ml
from otel_ml import semconv
from otel_ml._internal import guard
from otel_ml.config import Settings
from otel_ml.drift.profile import ReferenceProfile
from otel_ml.feedback.stores.registry import use_prediction_store
from otel_ml.instrumentation.fastapi.feedback_route import OUTCOMES


@pytest.fixture(autouse=True)
def production() -> None:
    guard.set_strict(False)


@pytest.fixture(scope="module")
def profile() -> ReferenceProfile:
    rng = np.random.default_rng(11)
    train = {
        "amount": rng.normal(100, 15, 1000),
        "age": rng.integers(18, 90, 1000).astype(float),
        "country": rng.choice(["DE", "FR", "US"], 1000).astype(object),
    }
    return ReferenceProfile.fit(train, predictions=rng.choice(["a", "b"], 1000))


@pytest.fixture
def drift_model(telemetry: Telemetry, profile: ReferenceProfile) -> Any:
    return otel_ml.wrap_model(lambda x: "a", "drift-fuzz", "1", reference=profile,
                              **telemetry.providers)  # fmt: skip


@fuzz_settings(max_examples=80)
@given(rows=feature_rows | st.builds(Unprintable) | st.lists(st.builds(Unprintable), max_size=3))
def test_hostile_feature_rows_are_data_quality_issues_never_failures(
    telemetry: Telemetry, drift_model: Any, rows: Any
) -> None:
    assert drift_model(rows) == "a"
    drift_model.drift_monitor.tick(force=True)
    telemetry.metrics()  # the drift callbacks run at collection

    assert guard.error_count() == 0


def test_an_unprintable_category_is_an_unseen_value(
    telemetry: Telemetry, profile: ReferenceProfile
) -> None:
    model = otel_ml.wrap_model(lambda x: "a", "unprintable", "1", reference=profile,
                               **telemetry.providers)  # fmt: skip
    row = {"amount": 100.0, "age": 40.0, "country": Unprintable()}

    assert model(row) == "a"
    assert model.drift_monitor is not None
    model.drift_monitor.tick(force=True)

    issues = {
        (a[semconv.ML_FEATURE_NAME], a[semconv.ML_DATA_ISSUE]): p.value
        for a, p in telemetry.points(semconv.ML_DATA_QUALITY_ISSUES)
    }
    assert issues == {("country", "unseen_category"): 1}
    assert guard.error_count() == 0


@pytest.fixture
def labelled(telemetry: Telemetry) -> Iterator[dict[str, Any]]:
    """A classifier, a regressor and a batch classifier with feedback on, default
    settings, and a store of this test's own."""
    previous = use_prediction_store(None)
    options = {"feedback": True, "settings": Settings.load(environ={}), **telemetry.providers}
    yield {
        "classifier": otel_ml.wrap_model(lambda x: "a", "fb-class", "1", **options),
        "regressor": otel_ml.wrap_model(lambda x: 1.5, "fb-reg", "1", task="regression",
                                        **options),
        "batch": otel_ml.wrap_model(lambda x: ["a", "b", "c"], "fb-batch", "1", **options),
    }  # fmt: skip
    use_prediction_store(previous)


@fuzz_settings(max_examples=80)
@given(
    target=st.sampled_from(["classifier", "regressor", "batch", "unknown"]),
    prediction_id=st.none() | st.text(max_size=300) | scalars,
    actual=values | st.lists(scalars, min_size=3, max_size=3),
)
def test_junk_labels_get_an_outcome_and_never_a_failure(
    labelled: dict[str, Any], target: str, prediction_id: Any, actual: Any
) -> None:
    if target != "unknown":
        labelled[target]([[1.0, 2.0]])
        prediction_id = otel_ml.last_prediction_id()
    if isinstance(actual, Unprintable) or (
        isinstance(actual, list) and any(isinstance(a, Unprintable) for a in actual)
    ):
        actual = repr  # a callable: junk, but one that can name itself

    if not isinstance(prediction_id, str):
        with pytest.raises(TypeError, match="prediction_id must be a string"):
            otel_ml.record_feedback(prediction_id, actual)
        return
    outcome = otel_ml.record_feedback(prediction_id, actual)

    assert outcome == ("matched" if target != "unknown" else "unknown")
    assert guard.error_count() == 0


@pytest.fixture(scope="module")
def feedback_server() -> Iterator[httpx.Client]:
    """A real uvicorn server with the feedback route (token required, small limits)."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider

    settings = Settings.load(environ={
        "OTEL_ML_FEEDBACK_TOKEN": "fuzz-token", "OTEL_ML_FEEDBACK_MAX_ITEMS": "20",
        "OTEL_ML_FEEDBACK_MAX_BODY_BYTES": "20000",
    })  # fmt: skip
    app = FastAPI()
    providers = {"tracer_provider": TracerProvider(), "meter_provider": MeterProvider()}
    otel_ml.instrument(app, model_name="fuzz-route", feedback_route="/feedback",
                       instrument_sklearn=False, settings=settings, **providers)  # fmt: skip
    with serving(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        yield client


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.sampled_from(["prediction_id", "actual", "items", "x"]) | st.text(),
                      children, max_size=4),
    max_leaves=30,
)  # fmt: skip
bodies = st.one_of(
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
    st.sampled_from([
        b"NaN", b"[1e999]", b'{"prediction_id": "a", "actual": Infinity}',
        b"1" * 5000, ("[" * 100_000 + "]" * 100_000).encode(), b"\xff\xfe{}", b"",
        json.dumps([{"prediction_id": "p", "actual": "a"}] * 21).encode(),
        json.dumps({"items": [{"prediction_id": "p" * 257, "actual": 1}]}).encode(),
        json.dumps({"prediction_id": "p", "actual": "x" * 30_000}).encode(),
        json.dumps({"prediction_id": "\udcff", "actual": 1}).encode(),
        json.dumps(nested(200)).encode(),
    ]),
)  # fmt: skip


@fuzz_settings(max_examples=80)
@given(
    body=bodies,
    content_type=st.sampled_from(["application/json", "text/plain", "\x7f", ""]),
    authorization=st.sampled_from(["Bearer fuzz-token", "Bearer wrong", "", "bearer fuzz-token"]),
)
def test_hostile_bodies_get_a_client_error_never_a_server_error(
    feedback_server: httpx.Client, body: bytes, content_type: str, authorization: str
) -> None:
    headers = {"content-type": content_type, "authorization": authorization}
    response = feedback_server.post("/feedback", content=body, headers=headers)

    answer = response.json()
    if not authorization.lower().endswith(" fuzz-token"):
        assert (response.status_code, answer) == (401, {"detail": "missing or wrong bearer token"})
    elif response.status_code == 200:
        assert answer["received"] == sum(answer[o] for o in OUTCOMES) >= 1
    else:
        assert response.status_code in (413, 422), answer
        assert list(answer) == ["detail"] and isinstance(answer["detail"], str)
    assert guard.error_count() == 0
