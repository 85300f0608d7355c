"""``instrument(app, drift_page=...)``: the drift page of a real served model."""

from __future__ import annotations

from typing import Any

import pytest
from drift_page_support import MODEL, PETAL, VERSION, model_app, parse_page, traffic, trained
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry.trace import SpanKind
from support import Telemetry

import otel_ml
from otel_ml._internal import guard
from otel_ml.instrumentation.fastapi import Instrumentation
from otel_ml.instrumentation.fastapi.drift_route import COMPONENT, DriftPage

PAGE = "/ml/drift"


def instrumented(telemetry: Telemetry, handles: list[Instrumentation], **kwargs: Any) -> FastAPI:
    app = model_app(telemetry.providers)
    kwargs = {"model_name": MODEL, "model_version": VERSION, "instrument_sklearn": False, **kwargs}
    handles.append(otel_ml.instrument(app, **telemetry.providers, **kwargs))
    return app


def test_the_page_is_off_by_default(telemetry: Telemetry, handles: list[Instrumentation]) -> None:
    _, profile = trained()
    app = instrumented(telemetry, handles, reference=profile)
    assert handles[0].drift_page is None
    with TestClient(app) as client:
        assert client.get(PAGE).status_code == 404


def test_page_and_json_twin_show_the_last_window_and_the_open_one(
    telemetry: Telemetry, handles: list[Instrumentation]
) -> None:
    _, profile = trained()
    app = instrumented(telemetry, handles, reference=profile, drift_page=PAGE)
    assert handles[0].drift_page == PAGE
    with TestClient(app) as client:
        for batch in traffic(11, 100, drifted=True):
            assert client.post("/predict", json=batch).status_code == 200
        telemetry.metrics()  # a collection scores the window closed at 1000 rows
        [odd] = traffic(1, 1, drifted=False)[0:1]
        odd[0].update({"site": "tenant-4711-secret", PETAL: 987654.321})
        assert client.post("/predict", json=odd).status_code == 200
        page = client.get(PAGE)
        twin = client.get(PAGE, params={"format": "json"})

    assert page.status_code == twin.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert (
        page.headers["content-security-policy"] == "default-src 'none'; style-src 'unsafe-inline'"
    )
    assert page.headers["cache-control"] == "no-store"
    [model] = twin.json()["models"]
    assert (model["model"], model["version"]) == (MODEL, VERSION)
    assert model["last_window"]["rows"] == 1000
    assert model["open_window"]["rows"] == 101
    features = {f["name"]: f for f in model["features"]}
    assert set(features) == {*profile.feature_names, "__score__", "__prediction__"}
    assert features["petal length (cm)"]["last_window"]["verdict"] == "drift"
    assert features["site"]["last_window"]["verdict"] == "drift"
    assert features["sepal width (cm)"]["last_window"]["verdict"] == "ok"
    assert all(f["last_window"]["n"] == 1000 for f in model["features"])
    assert all(f["open_window"]["n"] == 101 for f in model["features"])
    # Only aggregates: the odd row is counted, its values are not shown.
    assert features["site"]["open_window"]["issues"] == {"unseen_category": 1}
    assert features[PETAL]["open_window"]["issues"]["out_of_range"] >= 1
    for shown in (page.text, twin.text):
        assert "tenant-4711" not in shown and "987654" not in shown

    parsed = parse_page(page.text)
    cards = {card["name"]: card for card in parsed.cards}
    assert set(cards) == set(features)
    for name, feature in features.items():
        assert cards[name]["svg"] == 1
        assert cards[name]["cur"] == len(feature["bins"])
        assert cards[name]["tds"][0] == f"{feature['last_window']['scores']['psi']:.3f}"


def test_the_page_is_no_inference(telemetry: Telemetry, handles: list[Instrumentation]) -> None:
    _, profile = trained()
    app = instrumented(telemetry, handles, reference=profile, drift_page=PAGE)
    with TestClient(app) as client:
        response = client.get(PAGE)
    assert response.status_code == 200
    assert "x-prediction-id" not in response.headers
    assert [s.kind for s in telemetry.spans()] == [SpanKind.SERVER]  # no inference span


def test_an_app_without_a_monitor_gets_a_page_saying_so(
    telemetry: Telemetry, handles: list[Instrumentation]
) -> None:
    app = instrumented(telemetry, handles, model_version="no-reference", drift_page=PAGE)
    with TestClient(app) as client:
        page = client.get(PAGE)
        twin = client.get(PAGE, params={"format": "json"}).json()
    assert page.status_code == 200
    assert "No drift monitor for model" in page.text and "reference=" in page.text
    assert twin["models"] == [] and twin["note"].startswith("No drift monitor")


def test_an_app_without_a_model_name_gets_a_page_saying_so(
    telemetry: Telemetry, handles: list[Instrumentation]
) -> None:
    app = FastAPI()
    handles.append(otel_ml.instrument(app, **telemetry.providers, drift_page=PAGE))
    with TestClient(app) as client:
        twin = client.get(PAGE, params={"format": "json"}).json()
    assert twin["models"] == [] and "without a model name" in twin["note"]


def test_an_unknown_format_is_a_400(telemetry: Telemetry, handles: list[Instrumentation]) -> None:
    app = instrumented(telemetry, handles, drift_page=PAGE)
    with TestClient(app) as client:
        response = client.get(PAGE, params={"format": "xml"})
    assert response.status_code == 400
    assert "format=html or format=json" in response.text


@pytest.mark.parametrize(
    ("path", "error", "message"),
    [
        ("ml/drift", ValueError, "starting with '/'"),
        ("/ml/{model}", ValueError, "no path parameters"),
        ("/ml/drift?x=1", ValueError, "drift_page='/ml/drift?x=1'"),
        (42, TypeError, "drift_page must be a string path, got int"),
        ("/predict", ValueError, "already has a route at that path"),
        ("/feedback", ValueError, "feedback_route has that path already"),
    ],
)
def test_a_bad_path_is_rejected_by_instrument(
    telemetry: Telemetry, path: Any, error: type[Exception], message: str
) -> None:
    app = model_app(telemetry.providers)
    with pytest.raises(error, match=message.replace("?", r"\?").replace("{", r"\{")):
        otel_ml.instrument(
            app,
            MODEL,
            VERSION,
            **telemetry.providers,
            instrument_sklearn=False,
            feedback_route="/feedback",
            drift_page=path,
        )
    assert not hasattr(app, "_otel_ml_instrumentation")
    assert [getattr(r, "path", None) for r in app.router.routes].count("/feedback") == 0


def test_uninstrument_removes_the_page(
    telemetry: Telemetry, handles: list[Instrumentation]
) -> None:
    app = instrumented(telemetry, handles, drift_page=PAGE)
    handles[0].uninstrument()
    with TestClient(app) as client:
        assert client.get(PAGE).status_code == 404


def test_a_failing_page_is_a_500_counted_by_the_guard() -> None:
    def broken_monitor() -> None:
        raise RuntimeError("monitor lookup failed")

    app = FastAPI()
    DriftPage(PAGE, MODEL, broken_monitor).apply(app)
    guard.set_strict(False)
    with TestClient(app) as client:
        response = client.get(PAGE)
    assert response.status_code == 500
    assert response.text == "the drift page failed; otel_ml logged why"
    assert guard.error_count(COMPONENT) == 1
