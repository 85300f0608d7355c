"""The session's traffic: one app process gets a known mix of requests, then stops.

The demo app (:mod:`e2e_app_main`) gets inference requests (one row from a
site the model never saw, one rejected row with a NaN), labels (matched, and
one for an unknown prediction) and questions for its RAG endpoint ``POST
/ask``, whose chat completions stream from the OpenAI-compatible stand-in
server in the test process (:func:`answer`). The app closes a drift window
every :data:`DRIFT_WINDOW_ROWS` rows, so drift series exist too.

The mix is sent in :data:`ROUNDS` equal rounds, and each round waits until
Prometheus has scraped the previous one: Prometheus sees a counter's first
sample as its start, so only an increase between scrapes gives ``rate()`` a
value, as steady traffic would. The pipeline, GenAI and dashboard tests compare
what the backends show with :class:`Traffic`.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from e2e_support import Prometheus, app_process, otel_environment, poll, unique_service

from otel_ml.demo.costs import tenant_headers
from otel_ml.demo.llm_server import Reply
from otel_ml.demo.model import Row, broken, drifted, train

ROUNDS = 2
PREDICTIONS_PER_ROUND = 9  # the last of each round comes from a new site (drifted)
LABELS_PER_ROUND = 5  # one POST /feedback per round; the last of its labels is wrong
ASKS_PER_ROUND = 2
JUDGE_MODEL = "e2e-judge"
DRIFT_WINDOW_ROWS = 10
UNKNOWN_PREDICTION_ID = "no-such-prediction"
ANSWER_CHUNKS = ["Paris ", "is ", "the ", "capital."]
FIRST_CHUNK_DELAY_S = 0.05
CHUNK_DELAY_S = 0.01


def answer(body: dict[str, Any]) -> Reply:
    """The stand-in LLM's reply to every chat request: fixed chunks at a fixed pace."""
    return Reply(list(ANSWER_CHUNKS), first_delay=FIRST_CHUNK_DELAY_S, delay=CHUNK_DELAY_S)


@dataclass
class Prediction:
    prediction_id: str
    label: str
    confidence: float
    outcome: str | None = None  # "correct" / "incorrect" once labelled


@dataclass
class Traffic:
    """What the test sent, to compare with what the backends show."""

    service: str
    started_s: float = field(default_factory=time.time)
    predictions: list[Prediction] = field(default_factory=list)
    rejected: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    unmatched: int = 0
    answers: list[str] = field(default_factory=list)


def send_traffic(log: Path, llm_url: str, prometheus: Prometheus) -> Traffic:
    """Start the one-line app, its LLM calls going to ``llm_url``; send the
    rounds; stop the app (flushing its telemetry)."""
    sent = Traffic(unique_service("otel-ml-e2e"))
    environ = otel_environment(
        sent.service,
        OTEL_ML_DRIFT_WINDOW_ROWS=str(DRIFT_WINDOW_ROWS),
        OTEL_ML_DRIFT_MIN_COUNT=str(DRIFT_WINDOW_ROWS),
        OTEL_ML_DRIFT_BUFFER_ROWS="1",  # bin every request at once
        OTEL_ML_DRIFT_WINDOW_SECONDS="3600",
        E2E_LLM_URL=llm_url,
        # Every answer's groundedness judged by the stand-in, which is also the judge.
        OTEL_ML_GENAI_EVALUATION_RATE="1",
        OTEL_ML_GENAI_EVALUATION_JUDGE_URL=llm_url,
        OTEL_ML_GENAI_EVALUATION_JUDGE_MODEL=JUDGE_MODEL,
        OTEL_ML_GENAI_EVALUATION_EVALUATORS="groundedness",
        OTEL_ML_GENAI_EVALUATION_CONTENT="true",
    )
    demo = train()  # deterministic: the app's model; its training rows are the reference
    first, second = (str(c) for c in demo.model.classes_)
    with app_process("one-line", environ, log) as client:
        for round_ in range(ROUNDS):
            _predict(client, sent, round_, demo.rows)
            _label(client, sent, round_, (first, second))
            _ask(client, sent)
            if round_ < ROUNDS - 1:
                _wait_for_scrape(prometheus, sent)
    return sent


def _predict(client: httpx.Client, sent: Traffic, round_: int, rows: list[Row]) -> None:
    for i in range(PREDICTIONS_PER_ROUND):
        row = rows[len(sent.predictions) * 7]
        if i == PREDICTIONS_PER_ROUND - 1:  # a new site: an unseen category
            row = drifted(row)
        response = client.post("/predict", json={"rows": [row]})
        assert response.status_code == 200, response.text
        body = response.json()
        sent.predictions.append(
            Prediction(
                response.headers["x-prediction-id"], body["classes"][0], body["confidence"][0]
            )
        )
    # A client bug: a measurement sent as NaN (Python's json writes a bare NaN
    # token, as careless clients do); the model raises ValueError.
    body = json.dumps({"rows": [broken(rows[round_])]})
    response = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    sent.rejected += 1


def _label(client: httpx.Client, sent: Traffic, round_: int, classes: tuple[str, str]) -> None:
    labelled = sent.predictions[round_ * PREDICTIONS_PER_ROUND :][:LABELS_PER_ROUND]
    labels = []
    for i, prediction in enumerate(labelled):
        correct = i < LABELS_PER_ROUND - 1
        prediction.outcome = "correct" if correct else "incorrect"
        labels.append(
            {
                "prediction_id": prediction.prediction_id,
                "actual": prediction.label if correct else _other(classes, prediction.label),
            }
        )
        sent.outcomes[prediction.outcome] += 1
    response = client.post("/feedback", json=labels)
    assert response.status_code == 200, response.text
    # A label for a prediction this process never made (another replica's, or expired).
    unknown = [{"prediction_id": UNKNOWN_PREDICTION_ID, "actual": classes[0]}]
    response = client.post("/feedback", json=unknown)
    assert response.status_code == 200, response.text
    sent.unmatched += 1


def _other(classes: tuple[str, str], label: str) -> str:
    return classes[1] if label == classes[0] else classes[0]


def _ask(client: httpx.Client, sent: Traffic) -> None:
    for _ in range(ASKS_PER_ROUND):
        n = len(sent.answers)
        question = {"question": f"What is the capital of France? ({n})"}
        response = client.post("/ask", json=question, headers=tenant_headers(n))
        assert response.status_code == 200, response.text
        sent.answers.append(response.json()["answer"])
        thumbs = {"prediction_id": response.headers["x-prediction-id"], "thumbs": "up"}
        response = client.post("/feedback", json=thumbs)
        assert response.json()["answers"] == {"matched": 1, "unknown": 0}, response.text


def _wait_for_scrape(prometheus: Prometheus, sent: Traffic) -> None:
    """Until Prometheus holds the counts of everything sent so far (one export
    carries every instrument, so the last requests' counts stand for all)."""
    job = f'job="{sent.service}"'
    expected = {
        f"ml_inference_duration_seconds_count{{{job}}}": len(sent.predictions) + sent.rejected,
        f"ml_feedback_unmatched_total{{{job}}}": sent.unmatched,
        f'gen_ai_client_operation_duration_seconds_count{{{job}, gen_ai_operation_name="chat"}}': (
            len(sent.answers)
        ),
    }

    def scraped() -> dict[str, float]:
        return {
            selector: sum(value for _, value in prometheus.query(selector)) for selector in expected
        }

    poll(scraped, lambda found: found == expected, "Prometheus scraped the first round")
