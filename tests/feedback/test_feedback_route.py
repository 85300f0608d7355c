"""The feedback route of ``otel_ml.instrument(app, feedback_route=...)``: a real FastAPI
app serving a real scikit-learn model, labelled over HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from feedback_support import Clock, UseSettings
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from support import Telemetry

import otel_ml
from otel_ml import semconv
from otel_ml.config import get_settings
from otel_ml.feedback.store import PredictionStore
from otel_ml.inference.instruments import InferenceTelemetry
from otel_ml.instrumentation.fastapi import Instrumentation
from otel_ml.models.sinks import model_for

IRIS = load_iris()
X = IRIS.data
Y = IRIS.target_names[IRIS.target]
ROWS = (0, 1, 50, 51, 100, 101)  # the model predicts each row's true class
HEADER = "x-prediction-id"
REASON = semconv.ML_FEEDBACK_UNMATCHED_REASON
OUTCOME = semconv.ML_FEEDBACK_OUTCOME

Instrument = Callable[..., Instrumentation]


@pytest.fixture(scope="module")
def classifier() -> LogisticRegression:
    model = LogisticRegression(max_iter=1000).fit(X, Y)
    assert model.predict(X[list(ROWS)]).tolist() == Y[list(ROWS)].tolist()
    return model


@pytest.fixture
def name(request: pytest.FixtureRequest) -> str:
    """A model name of this test's own (model contexts are cached per name)."""
    return f"route-{request.node.name}"


def make_app(classifier: LogisticRegression, telemetry: Telemetry, name: str) -> FastAPI:
    model = otel_ml.wrap_model(classifier, name, "7", **telemetry.providers)
    app = FastAPI()

    @app.get("/predict/{row}")
    def predict(row: int) -> dict[str, str]:
        return {"class": str(model.predict(X[row : row + 1])[0])}

    @app.post("/predict")
    def predict_many(rows: list[int]) -> dict[str, list[str]]:
        return {"classes": [str(c) for c in model.predict(X[rows])]}

    return app


@pytest.fixture
def instrument(telemetry: Telemetry, name: str) -> Iterator[Instrument]:
    """``otel_ml.instrument`` with the test's providers and model; undone afterwards."""
    handles: list[Instrumentation] = []

    def apply(app: FastAPI, **kwargs: Any) -> Instrumentation:
        kwargs = {"model_name": name, "model_version": "7", "instrument_sklearn": False,
                  "feedback_route": "/feedback", **kwargs}  # fmt: skip
        handle = otel_ml.instrument(app, **telemetry.providers, **kwargs)
        handles.append(handle)
        return handle

    yield apply
    for handle in handles:
        handle.uninstrument()


@pytest.fixture
def client(
    classifier: LogisticRegression, telemetry: Telemetry, name: str, instrument: Instrument
) -> Iterator[TestClient]:
    app = make_app(classifier, telemetry, name)
    instrument(app)
    with TestClient(app) as client:
        yield client


def predict(client: TestClient, rows: tuple[int, ...] = ROWS) -> list[str]:
    """One request per row; the prediction ids the responses carry."""
    ids = []
    for row in rows:
        response = client.get(f"/predict/{row}")
        assert response.status_code == 200
        ids.append(response.headers[HEADER])
    return ids


def counts(matched: int = 0, unknown: int = 0, expired: int = 0, duplicate: int = 0) -> Any:
    received = matched + unknown + expired + duplicate
    return {"received": received, "matched": matched, "unknown": unknown, "expired": expired,
            "duplicate": duplicate, "store_unavailable": 0}  # fmt: skip


def values(telemetry: Telemetry, metric: str) -> dict[frozenset[tuple[str, Any]], Any]:
    """Attributes -> value, or ``count`` for histograms."""
    return {
        frozenset(attrs.items()): point.count if hasattr(point, "count") else point.value
        for attrs, point in telemetry.points(metric)
    }


def key(name: str, **extra: str) -> frozenset[tuple[str, Any]]:
    return frozenset({semconv.ML_MODEL_NAME: name, semconv.ML_MODEL_VERSION: "7", **extra}.items())


def spans_named(telemetry: Telemetry, prefix: str) -> list[ReadableSpan]:
    return [s for s in telemetry.spans() if s.name.startswith(prefix)]


def assert_nothing_recorded(telemetry: Telemetry) -> None:
    assert spans_named(telemetry, "feedback") == []
    for metric in (semconv.ML_FEEDBACK_OUTCOMES, semconv.ML_FEEDBACK_UNMATCHED):
        assert telemetry.points(metric) == []


def test_labels_posted_to_the_route_join_their_predictions(
    client: TestClient, telemetry: Telemetry, name: str
) -> None:
    ids = predict(client)
    batch = client.post("/predict", json=[0, 50, 100])
    assert batch.json() == {"classes": ["setosa", "versicolor", "virginica"]}
    labels = [
        {"prediction_id": ids[0], "actual": "setosa"},
        {"prediction_id": ids[2], "actual": "versicolor"},
        {"prediction_id": ids[4], "actual": "setosa"},  # wrong: predicted virginica
        {"prediction_id": ids[5], "actual": "virginica"},
        {"prediction_id": batch.headers[HEADER], "actual": ["setosa", "setosa", "virginica"]},
        {"prediction_id": "0" * 32, "actual": "setosa"},  # no such prediction
    ]

    response = client.post("/feedback", json=labels)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == counts(matched=5, unknown=1)
    assert HEADER not in response.headers  # the route predicts nothing
    assert values(telemetry, semconv.ML_FEEDBACK_OUTCOMES) == {
        key(name, **{OUTCOME: "correct"}): 5,
        key(name, **{OUTCOME: "incorrect"}): 2,
    }
    assert values(telemetry, semconv.ML_FEEDBACK_UNMATCHED) == {key(name, **{REASON: "unknown"}): 1}
    assert values(telemetry, semconv.ML_FEEDBACK_DELAY) == {key(name): 5}
    assert values(telemetry, semconv.ML_FEEDBACK_ACCURACY) == {key(name): 5 / 7}
    assert values(telemetry, semconv.ML_FEEDBACK_WINDOW_SIZE) == {key(name): 7}
    assert_feedback_spans(telemetry, name, labels)


def assert_feedback_spans(telemetry: Telemetry, name: str, labels: list[dict[str, Any]]) -> None:
    """One span per label, children of the POST's server span, linked to their predictions."""
    [server] = [s for s in telemetry.spans() if s.name == "POST /feedback"]
    assert server.kind is SpanKind.SERVER
    feedback = {
        (s.attributes or {})[semconv.ML_PREDICTION_ID]: s
        for s in spans_named(telemetry, "feedback")
    }
    assert sorted(feedback) == sorted(label["prediction_id"] for label in labels)
    for label in labels:
        span = feedback[label["prediction_id"]]
        assert span.parent is not None and span.parent.span_id == server.context.span_id
        if label["prediction_id"] == "0" * 32:
            assert not span.links
            assert dict(span.attributes or {}) == {
                **dict(key(name, **{REASON: "unknown"})),
                semconv.ML_PREDICTION_ID: "0" * 32,
            }
            continue
        [prediction] = [
            s
            for s in spans_named(telemetry, "predict")
            if (s.attributes or {}).get(semconv.ML_PREDICTION_ID) == label["prediction_id"]
        ]
        [link] = span.links
        assert (link.context.trace_id, link.context.span_id) == (
            prediction.context.trace_id,
            prediction.context.span_id,
        )
        # ... whose span sits in the trace of the request that asked for it.
        batch = isinstance(label["actual"], list)
        [request] = [s for s in telemetry.spans() if s.context == prediction.parent]
        assert request.kind is SpanKind.SERVER
        assert request.name == ("POST /predict" if batch else "GET /predict/{row}")
        assert span.name == f"feedback {name}"
        wrong = label is labels[2]
        outcome = None if batch else "incorrect" if wrong else "correct"
        assert (span.attributes or {}).get(OUTCOME) == outcome


@pytest.mark.parametrize(
    "shape",
    [
        pytest.param(lambda items: items[0], id="object"),
        pytest.param(lambda items: items, id="list"),
        pytest.param(lambda items: {"items": items}, id="items"),
    ],
)
def test_one_label_a_list_or_items_are_accepted_and_duplicates_counted_once(
    client: TestClient, telemetry: Telemetry, name: str, shape: Callable[[Any], Any]
) -> None:
    [pid] = predict(client, (0,))
    items = [{"prediction_id": pid, "actual": "setosa"}, {"prediction_id": pid, "actual": 1}]

    first = client.post("/feedback", json=shape(items))
    again = client.post("/feedback", json=shape(items))

    one = isinstance(shape(items), dict) and "items" not in shape(items)
    assert first.json() == (counts(matched=1) if one else counts(matched=1, duplicate=1))
    assert again.json() == (counts(duplicate=1) if one else counts(duplicate=2))
    assert values(telemetry, semconv.ML_FEEDBACK_OUTCOMES) == {key(name, **{OUTCOME: "correct"}): 1}
    duplicates = 1 if one else 3
    assert values(telemetry, semconv.ML_FEEDBACK_UNMATCHED) == {
        key(name, **{REASON: "duplicate"}): duplicates
    }


def test_expired_predictions_are_counted_for_the_apps_model(
    classifier: LogisticRegression,
    telemetry: Telemetry,
    name: str,
    instrument: Instrument,
    use_store: Callable[..., PredictionStore],
) -> None:
    clock = Clock()
    use_store(3, 60.0, clock)  # before instrument(): the model keeps the store it starts with
    app = make_app(classifier, telemetry, name)
    instrument(app)
    with TestClient(app) as client:
        ids = predict(client, (0, 50, 100))
        clock.advance(30)
        [young] = predict(client, (1,))  # the fourth: evicts the first by count
        clock.advance(30)  # the second and third reach their TTL
        labels = [{"prediction_id": pid, "actual": "setosa"} for pid in [*ids, young]]
        response = client.post("/feedback", json={"items": labels})

    assert response.json() == counts(matched=1, expired=3)
    assert values(telemetry, semconv.ML_FEEDBACK_UNMATCHED) == {key(name, **{REASON: "expired"}): 3}
    assert values(telemetry, semconv.ML_FEEDBACK_OUTCOMES) == {key(name, **{OUTCOME: "correct"}): 1}
    [(_, delay)] = telemetry.points(semconv.ML_FEEDBACK_DELAY)
    assert (delay.count, delay.sum) == (1, 30.0)


LONG_ID = "x" * 257
BAD_PAYLOADS = [
    (b"not json", "body is not valid JSON"),
    (b"\xff\xfe{}", "body is not valid JSON"),
    (b'{"prediction_id": "a", "actual": NaN}', "body is not valid JSON: NaN is not a JSON number"),
    (
        b"42",
        'expected {"prediction_id": ..., "actual": ...}, a list of them or {"items": [...]}, '
        "got int",
    ),
    (b"[]", "items: expected at least one label"),
    (b'{"items": 3}', "items: expected a list, got int"),
    (b'["a"]', "items[0]: expected an object, got str"),
    (b'{"actual": "setosa"}', "prediction_id: field required"),
    (
        b'[{"prediction_id": "a", "actual": 1}, {"prediction_id": "b"}]',
        "items[1].actual: field required",
    ),
    (
        b'{"items": [{"prediction_id": 7, "actual": "setosa"}]}',
        "items[0].prediction_id: expected a non-empty string of at most 256 characters, got int",
    ),
    (
        b'{"prediction_id": "", "actual": "setosa"}',
        "prediction_id: expected a non-empty string of at most 256 characters, got str",
    ),
    (
        json.dumps({"prediction_id": LONG_ID, "actual": 1}).encode(),
        "prediction_id: expected a non-empty string of at most 256 characters, got str",
    ),
    (
        b'{"prediction_id": "a", "actual": null}',
        "actual: expected a class (string), a number or a list of them (one per row of a batch "
        "prediction), got null",
    ),
    (
        b'{"prediction_id": "a", "actual": {"class": 1}}',
        "actual: expected a class (string), a number or a list of them (one per row of a batch "
        "prediction), got dict",
    ),
    (
        b'{"prediction_id": "a", "actual": 1e999}',
        "actual: expected a class (string), a number or a list of them (one per row of a batch "
        "prediction), got float",
    ),
    (
        b'[{"prediction_id": "a", "actual": [1, null]}]',
        "items[0].actual[1]: expected a class (string) or a number, got null",
    ),
    (
        b'[{"prediction_id": "a", "actual": []}]',
        "items[0].actual: a batch label needs 1 to 256 rows, got 0",
    ),
    (
        json.dumps({"prediction_id": "a", "actual": [1] * 257}).encode(),
        "actual: a batch label needs 1 to 256 rows, got 257",
    ),
]


@pytest.mark.parametrize(("body", "detail"), BAD_PAYLOADS)
def test_bad_payloads_are_refused_with_422_and_record_nothing(
    client: TestClient, telemetry: Telemetry, body: bytes, detail: str
) -> None:
    response = client.post("/feedback", content=body,
                           headers={"content-type": "application/json"})  # fmt: skip

    assert response.status_code == 422
    assert list(response.json()) == ["detail"]
    assert response.json()["detail"].startswith(detail)  # JSON errors add the parser's words
    assert_nothing_recorded(telemetry)


def test_a_bad_item_rejects_the_whole_request(client: TestClient, telemetry: Telemetry) -> None:
    [pid] = predict(client, (0,))
    labels = [{"prediction_id": pid, "actual": "setosa"}, {"prediction_id": pid, "actual": None}]

    refused = client.post("/feedback", json=labels)
    assert refused.status_code == 422
    assert refused.json()["detail"].startswith("items[1].actual: expected a class")
    assert_nothing_recorded(telemetry)

    assert client.post("/feedback", json=labels[:1]).json() == counts(matched=1)


def test_size_limits_answer_413(
    classifier: LogisticRegression,
    telemetry: Telemetry,
    name: str,
    instrument: Instrument,
    use_settings: UseSettings,
) -> None:
    limits = use_settings(OTEL_ML_FEEDBACK_MAX_ITEMS="3", OTEL_ML_FEEDBACK_MAX_BODY_BYTES="300")
    app = make_app(classifier, telemetry, name)
    instrument(app, settings=limits)
    item = {"prediction_id": "a" * 32, "actual": "setosa"}  # 52 bytes as JSON
    with TestClient(app) as client:
        too_many = client.post("/feedback", json=[item] * 4)
        body = json.dumps([item] * 3).encode()
        at_limit = client.post("/feedback", content=body + b" " * (300 - len(body)))
        too_big = client.post("/feedback", json={"items": [{**item, "actual": "s" * 300}]})
        streamed = client.post("/feedback", content=iter([b"[", b" " * 200, b" " * 200, b"]"]))

    assert (too_many.status_code, too_many.json()) == (
        413, {"detail": "4 labels in one request, at most 3"}
    )  # fmt: skip
    assert at_limit.status_code == 200 and at_limit.json() == counts(unknown=3)
    for refused in (too_big, streamed):
        assert (refused.status_code, refused.json()) == (
            413, {"detail": "request body over the limit of 300 bytes"}
        )  # fmt: skip
    assert "content-length" not in streamed.request.headers  # chunked: counted while read
    unmatched = values(telemetry, semconv.ML_FEEDBACK_UNMATCHED)
    assert unmatched == {key(name, **{REASON: "unknown"}): 3}  # never matched: not duplicates


def test_a_configured_token_is_required(
    classifier: LogisticRegression,
    telemetry: Telemetry,
    name: str,
    instrument: Instrument,
    use_settings: UseSettings,
) -> None:
    app = make_app(classifier, telemetry, name)
    instrument(app, settings=use_settings(OTEL_ML_FEEDBACK_TOKEN="s3cret-token"))
    label = {"prediction_id": "f" * 32, "actual": "setosa"}
    with TestClient(app) as client:
        refused = [
            client.post("/feedback", json=label, headers=headers)
            for headers in (
                {},
                {"authorization": "Bearer wrong"},
                {"authorization": "Bearer s3cret-token-and-more"},
                {"authorization": "Basic s3cret-token"},
                {"authorization": "s3cret-token"},
            )
        ]
        assert_nothing_recorded(telemetry)
        accepted = client.post(
            "/feedback", json=label, headers={"authorization": "bearer s3cret-token"}
        )

    for response in refused:
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json() == {"detail": "missing or wrong bearer token"}
    assert accepted.status_code == 200 and accepted.json() == counts(unknown=1)


def test_only_post_is_routed(client: TestClient) -> None:
    assert client.get("/feedback").status_code == 405


def test_the_route_needs_a_model_name_and_a_fixed_path(
    classifier: LogisticRegression, telemetry: Telemetry, name: str, instrument: Instrument
) -> None:
    app = make_app(classifier, telemetry, name)
    with pytest.raises(ValueError, match=r"feedback_route=\.\.\.\) needs model_name"):
        instrument(app, model_name=None)
    for path in ("feedback", "/feedback/{id}", "/feed back", "/f?x=1"):
        with pytest.raises(ValueError, match="expected a fixed path starting with '/'"):
            instrument(app, feedback_route=path)
    with pytest.raises(TypeError, match="feedback_route must be a string path, got int"):
        instrument(app, feedback_route=42)
    with pytest.raises(ValueError, match="already has a route at that path"):
        instrument(app, feedback_route="/predict")
    assert not any(getattr(r, "path", None) == "/feedback" for r in app.router.routes)


def test_uninstrument_removes_the_route(
    classifier: LogisticRegression, telemetry: Telemetry, name: str, instrument: Instrument
) -> None:
    app = make_app(classifier, telemetry, name)

    @app.post("/{anything:path}")  # a catch-all must not hide the route
    def catch_all(anything: str) -> dict[str, str]:
        return {"caught": anything}

    handle = instrument(app)
    model = model_for(name, "7", InferenceTelemetry.of(**telemetry.providers), get_settings())
    assert handle.feedback_route == "/feedback" and model.sink("feedback") is not None
    with TestClient(app) as client:
        pids = predict(client, (0, 50))
        label = {"prediction_id": pids[0], "actual": "setosa"}
        assert client.post("/feedback", json=label).json() == counts(matched=1)
        handle.uninstrument()
        gone = client.post("/feedback", json={"prediction_id": pids[1], "actual": "versicolor"})
        handle.uninstrument()  # idempotent

    assert gone.json() == {"caught": "feedback"}
    assert not any(getattr(r, "path", None) == "/feedback" for r in app.router.routes)
    assert handle.feedback_route == "/feedback" and not handle.active
    # Like drift monitoring, feedback stays on for the model: in-process labels still join.
    assert otel_ml.record_feedback(pids[1], "versicolor") == "matched"
    assert values(telemetry, semconv.ML_FEEDBACK_OUTCOMES) == {key(name, **{OUTCOME: "correct"}): 2}
