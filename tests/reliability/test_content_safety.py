"""Content and access safety, checked on what actually leaves the process.

Real traffic (a scikit-learn pipeline behind FastAPI with drift, feedback and
the drift page; the ``openai`` client against the stand-in LLM server; a
retrieval block) runs with distinctive markers in every feature value,
prompt, completion, document, query, key and token. Everything exported is
then searched for them: the in-memory spans and metrics, the OTLP/HTTP
protobuf bytes a real receiver got, and every log record.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import openai
import pandas as pd
import pytest
from fastapi import FastAPI
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from otlp_receiver import HttpReceiver
from reliability_support import serving
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder
from support import Telemetry

import otel_ml
from otel_ml.config import Settings
from otel_ml.demo.llm_server import running_server
from otel_ml.drift.profile import ReferenceProfile
from otel_ml.feedback.stores.registry import use_prediction_store
from otel_ml.genai.content import TRUNCATED
from otel_ml.instrumentation.openai import OpenAIInstrumentor

FEATURE_VALUE = 123456.789
CATEGORY = "SECRET-CATEGORY-xyz"
PROMPT = "PROMPT-MARKER-q7"
COMPLETION = "COMPLETION-MARKER-k2"
EMBEDDED = "EMBEDDED-TEXT-MARKER-v5"
DOCUMENT = "DOCUMENT-TEXT-MARKER-d1"
DOCUMENT_ID = "DOCUMENT-ID-MARKER-d9"
QUERY = "QUERY-MARKER-r4"
API_KEY = "sk-API-KEY-MARKER-0042"
HEADER_SECRET = "HEADER-SECRET-MARKER-h3"
FEEDBACK_TOKEN = "FEEDBACK-TOKEN-MARKER-t8"
MARKERS = (str(FEATURE_VALUE), "123456.78", CATEGORY, PROMPT, COMPLETION, EMBEDDED, DOCUMENT,
           DOCUMENT_ID, QUERY, API_KEY, HEADER_SECRET, FEEDBACK_TOKEN)  # fmt: skip


@dataclass
class Exported:
    """The in-memory copy and the OTLP receiver of one set of providers, plus the logs."""

    telemetry: Telemetry
    receiver: HttpReceiver
    logs: list[str]
    settings: Settings

    def flush(self) -> None:
        self.telemetry.tracer_provider.force_flush()
        self.telemetry.meter_provider.force_flush()

    def everything(self) -> str:
        """All exported data as one searchable text: JSON of the in-memory spans and
        metrics, the OTLP requests as protobuf text and as raw bytes, the logs."""
        self.flush()
        spans = [span.to_json() for span in self.telemetry.spans()]
        metrics = self.telemetry.reader.get_metrics_data()
        with self.receiver.lock:
            requests = [r.request for r in (*self.receiver.traces, *self.receiver.metrics)]
        wire = [str(r) for r in requests]
        raw = [r.SerializeToString().decode("utf-8", "replace") for r in requests]
        return "\n".join([*spans, metrics.to_json() if metrics else "", *wire, *raw, *self.logs])


class _Collect(logging.Handler):
    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.sink = sink
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        # openai before 3.x logs each request's options, body included, at DEBUG:
        # the client's own logging, there with or without otel_ml.
        if record.name.startswith("openai.") and record.levelno == logging.DEBUG:
            return
        self.sink.append(self.format(record))  # the traceback too, when there is one


@pytest.fixture
def exported() -> Iterator[Exported]:
    """Providers exporting to memory and over OTLP/HTTP to a loopback receiver;
    every log record of the process captured; settings with a feedback token;
    a prediction store of this test's own."""
    settings = Settings.load(environ={"OTEL_ML_FEEDBACK_TOKEN": FEEDBACK_TOKEN})
    previous_store = use_prediction_store(None)
    logs: list[str] = []
    handler = _Collect(logs)
    root = logging.getLogger()
    root.addHandler(handler)
    previous_level = root.level
    root.setLevel(logging.DEBUG)
    with HttpReceiver() as receiver:
        memory = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(memory))
        tracer_provider.add_span_processor(
            SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{receiver.endpoint}/v1/traces"))
        )
        reader = InMemoryMetricReader()
        otlp_metrics = PeriodicExportingMetricReader(
            OTLPMetricExporter(endpoint=f"{receiver.endpoint}/v1/metrics"),
            export_interval_millis=3_600_000,  # exported by force_flush only
        )
        meter_provider = MeterProvider(metric_readers=[reader, otlp_metrics])
        try:
            yield Exported(Telemetry(tracer_provider, meter_provider, memory, reader),
                           receiver, logs, settings)  # fmt: skip
        finally:
            use_prediction_store(previous_store)
            tracer_provider.shutdown()
            meter_provider.shutdown()
            root.removeHandler(handler)
            root.setLevel(previous_level)


def fitted_pipeline() -> tuple[Any, ReferenceProfile]:
    rng = np.random.default_rng(1)
    train = pd.DataFrame({
        "amount": rng.normal(100, 20, 400), "age": rng.integers(18, 80, 400).astype(float),
        "country": rng.choice(["DE", "FR"], 400),
    })  # fmt: skip
    labels = np.where(train["amount"] > 100, "fraud", "ok")
    encode = ColumnTransformer([("country", OneHotEncoder(handle_unknown="ignore"), ["country"])],
                               remainder="passthrough")  # fmt: skip
    model = make_pipeline(encode, LogisticRegression(max_iter=500)).fit(train, labels)
    return model, ReferenceProfile.fit(train, predictions=labels)


def serve_model(exported: Exported, **instrument_args: Any) -> FastAPI:
    model, profile = fitted_pipeline()
    instrument_args.setdefault("settings", exported.settings)
    wrapped = otel_ml.wrap_model(model, "fraud", "1", reference=profile,
                                 **exported.telemetry.providers,
                                 settings=instrument_args["settings"])  # fmt: skip
    app = FastAPI()

    @app.post("/predict")
    def predict(row: dict[str, Any]) -> dict[str, str]:
        return {"label": str(wrapped.predict(pd.DataFrame([row]))[0])}

    otel_ml.instrument(app, model_name="fraud", model_version="1", reference=profile,
                       feedback_route="/feedback", instrument_sklearn=False,
                       **exported.telemetry.providers, **instrument_args)  # fmt: skip
    return app


def model_traffic(app: FastAPI) -> None:
    """Predictions with the marked feature values, a label through the route, and
    one refused label with a wrong token, over a real HTTP server."""
    row = {"amount": FEATURE_VALUE, "age": 41.0, "country": CATEGORY}
    with serving(app) as url, httpx.Client(base_url=url, timeout=10) as http:
        ids = [http.post("/predict", json=row).headers["x-prediction-id"] for _ in range(3)]
        auth = {"Authorization": f"Bearer {FEEDBACK_TOKEN}"}
        labels = [{"prediction_id": pid, "actual": "ok"} for pid in ids]
        assert http.post("/feedback", json=labels, headers=auth).json()["matched"] == 3
        wrong = {"Authorization": f"Bearer {FEEDBACK_TOKEN}-wrong"}
        assert http.post("/feedback", json=labels, headers=wrong).status_code == 401


def llm_traffic(exported: Exported, llm_url: str) -> None:
    """Chat (plain and streamed), a text completion and embeddings through the real
    client, with the key and an extra secret header; then a retrieval block."""
    with openai.OpenAI(base_url=llm_url, api_key=API_KEY, max_retries=0,
                       default_headers={"x-secret": HEADER_SECRET}) as client:  # fmt: skip
        fake = {"fake": {"words": [COMPLETION, " and more"]}}
        messages = [{"role": "user", "content": PROMPT}]
        client.chat.completions.create(model="m", messages=messages, extra_body=fake)
        stream = client.chat.completions.create(model="m", messages=messages, stream=True,
                                                extra_body=fake)  # fmt: skip
        assert COMPLETION in "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        client.completions.create(model="m", prompt=PROMPT, extra_body=fake)
        client.embeddings.create(model="e", input=[EMBEDDED])
    with otel_ml.retrieval("docs", top_k=1, **exported.telemetry.providers) as call:
        call.record_query(QUERY)
        call.record_documents([{"id": DOCUMENT_ID, "text": DOCUMENT, "score": 0.9}])


@pytest.fixture(scope="module")
def llm_url() -> Iterator[str]:
    with running_server() as url:
        yield url


def test_by_default_no_content_key_or_token_leaves_the_process(
    exported: Exported, llm_url: str
) -> None:
    app = serve_model(exported)
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(**exported.telemetry.providers)
    try:
        model_traffic(app)
        llm_traffic(exported, llm_url)
    finally:
        instrumentor.uninstrument()

    text = exported.everything()
    leaked = [marker for marker in MARKERS if marker in text]
    assert leaked == []
    # Not a vacuous scan: the traffic's telemetry is all there, on the wire too.
    for expected in ("predict fraud", "feedback fraud", "chat m", "text_completion m",
                     "embeddings e", "retrieval docs", "ml.drift.bin.count",
                     "ml.feedback.outcomes", "gen_ai.client.token.usage"):  # fmt: skip
        assert expected in text, expected
    span_names = {span.name for _, span in exported.receiver.spans()}
    assert {"predict fraud", "chat m", "retrieval docs"} <= span_names


def redact(text: str) -> str:
    return text.replace("SECRET", "[redacted]")


def test_captured_content_is_redacted_and_capped_on_the_wire(
    exported: Exported, llm_url: str
) -> None:
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(**exported.telemetry.providers, capture_content=True, redact=redact,
                            max_content_length=200)  # fmt: skip
    long_prompt = "my SECRET-PII-marker is " + "y" * 20_000
    try:
        with openai.OpenAI(base_url=llm_url, api_key=API_KEY, max_retries=0) as client:
            client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": long_prompt}],
                extra_body={"fake": {"words": ["SECRET-ANSWER-marker ", "z" * 20_000]}},
            )  # fmt: skip
        with otel_ml.retrieval("docs", capture_content=True, redact=redact,
                               **exported.telemetry.providers) as call:  # fmt: skip
            call.record_query("SECRET-QUERY-marker")
    finally:
        instrumentor.uninstrument()

    text = exported.everything()
    assert "SECRET" not in text and API_KEY not in text
    assert "[redacted]-PII-marker" in text and "[redacted]-QUERY-marker" in text
    [chat] = [span for _, span in exported.receiver.spans() if span.name == "chat m"]
    captured = {kv.key: kv.value.string_value for kv in chat.attributes
                if kv.key in ("gen_ai.input.messages", "gen_ai.output.messages")}  # fmt: skip
    assert set(captured) == {"gen_ai.input.messages", "gen_ai.output.messages"}
    for value in captured.values():
        [message] = json.loads(value)
        [part] = message["parts"]
        assert part["content"].endswith(TRUNCATED)
        assert len(part["content"]) == 200 + len(TRUNCATED)


def test_the_drift_page_is_off_by_default_and_shows_only_aggregates(exported: Exported) -> None:
    row = {"amount": FEATURE_VALUE, "age": 41.0, "country": CATEGORY}
    default_app = serve_model(exported)
    with_page = serve_model(exported, drift_page="/ml/drift")
    with serving(default_app) as url, httpx.Client(base_url=url, timeout=10) as http:
        assert http.get("/ml/drift").status_code == 404
    with serving(with_page) as url, httpx.Client(base_url=url, timeout=10) as http:
        for _ in range(5):
            assert http.post("/predict", json=row).status_code == 200
        anonymous = http.get("/ml/drift")  # the feedback token closes the page too
        auth = {"Authorization": f"Bearer {FEEDBACK_TOKEN}"}
        page = http.get("/ml/drift", headers=auth)
        document = http.get("/ml/drift", params={"format": "json"}, headers=auth)

    assert anonymous.status_code == 401 and FEEDBACK_TOKEN not in anonymous.text
    assert page.status_code == 200 and document.status_code == 200
    assert "amount" in page.text and "country" in document.text  # the features, by name
    shown = page.text + document.text
    assert [m for m in MARKERS if m in shown] == []


def test_the_feedback_route_enforces_token_size_and_count_over_real_http(
    exported: Exported,
) -> None:
    """The route's limits as a client meets them through uvicorn's own HTTP parsing
    (the unit tests in tests/feedback use the in-process test client)."""
    limits = {"OTEL_ML_FEEDBACK_TOKEN": FEEDBACK_TOKEN, "OTEL_ML_FEEDBACK_MAX_ITEMS": "5",
              "OTEL_ML_FEEDBACK_MAX_BODY_BYTES": "2000"}  # fmt: skip
    app = serve_model(exported, settings=Settings.load(environ=limits))
    label = {"prediction_id": "0" * 32, "actual": "ok"}
    auth = {"Authorization": f"Bearer {FEEDBACK_TOKEN}"}
    with serving(app) as url, httpx.Client(base_url=url, timeout=10) as http:
        no_token = http.post("/feedback", json=[label])
        basic = http.post("/feedback", json=[label], headers={"Authorization": "Basic x"})
        too_many = http.post("/feedback", json=[label] * 6, headers=auth)
        too_big = http.post("/feedback", content=b" " * 2001, headers=auth)
        streamed = http.post("/feedback", content=iter([b"[", b" " * 1500, b" " * 1500, b"]"]),
                             headers=auth)  # fmt: skip
        accepted = http.post("/feedback", json=[label] * 5, headers=auth)

    assert [r.status_code for r in (no_token, basic)] == [401, 401]
    assert no_token.headers["www-authenticate"].startswith("Bearer")
    assert [r.status_code for r in (too_many, too_big, streamed)] == [413, 413, 413]
    assert accepted.status_code == 200 and accepted.json()["unknown"] == 5
    assert FEEDBACK_TOKEN not in exported.everything()
