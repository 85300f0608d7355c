"""User feedback on LLM answers through the feedback route of ``instrument(app)``:
a real FastAPI app answering with the real ``openai`` client against the stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from support import Telemetry

import otel_ml
from otel_ml.demo.llm_server import running_server
from otel_ml.genai.evaluation import names, record_answer_feedback
from otel_ml.instrumentation.openai import OpenAIInstrumentor


@pytest.fixture
def app_client(telemetry: Telemetry) -> Iterator[TestClient]:
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(**telemetry.providers)
    with running_server() as url, openai.OpenAI(base_url=url, api_key="sk-test",
                                                max_retries=0) as llm:  # fmt: skip
        app = FastAPI()

        @app.post("/ask/{number}")
        def ask(number: int) -> dict[str, Any]:
            answer = llm.chat.completions.create(
                model="fake-model", messages=[{"role": "user", "content": "Hi?"}],
                extra_body={"fake": {"id": f"chatcmpl-answer-{number}"}},
            )  # fmt: skip
            return {"id": answer.id, "text": answer.choices[0].message.content}

        handle = otel_ml.instrument(app, "assistant", "1", instrument_sklearn=False,
                                    feedback_route="/feedback", **telemetry.providers)  # fmt: skip
        try:
            with TestClient(app) as client:
                yield client
        finally:
            handle.uninstrument()
            instrumentor.uninstrument()


def feedback_spans(telemetry: Telemetry) -> list[Any]:
    return [s for s in telemetry.spans() if s.name == "evaluation user_feedback"]


def test_thumbs_on_a_response_id_are_linked_to_the_answer_span(
    telemetry: Telemetry, app_client: TestClient
) -> None:
    asked = [app_client.post(f"/ask/{n}") for n in (1, 2)]
    posted = app_client.post("/feedback", json=[
        {"response_id": "chatcmpl-answer-2", "thumbs": "down"},
        {"prediction_id": asked[0].headers["x-prediction-id"], "score": 0.75},
        {"response_id": "chatcmpl-never", "thumbs": "up"},
    ])  # fmt: skip
    assert posted.status_code == 200, posted.text
    assert posted.json()["answers"] == {"matched": 2, "unknown": 1}
    chats = {s.attributes["gen_ai.response.id"]: s for s in telemetry.spans()  # type: ignore[index]
             if s.name == "chat fake-model"}  # fmt: skip
    down, scored = feedback_spans(telemetry)
    assert [link.context.span_id for link in down.links] == [
        chats["chatcmpl-answer-2"].context.span_id
    ]
    assert [link.context.span_id for link in scored.links] == [
        chats["chatcmpl-answer-1"].context.span_id
    ]
    # Recorded in the feedback request's own trace (as delayed labels are).
    assert down.context.trace_id != chats["chatcmpl-answer-2"].context.trace_id
    (event,) = down.events
    assert event.name == "gen_ai.evaluation.result"
    assert dict(event.attributes or {}) == {
        "gen_ai.evaluation.name": "user_feedback", "gen_ai.evaluation.score.value": 0.0,
        "gen_ai.evaluation.score.label": "thumbs_down", "gen_ai.response.id": "chatcmpl-answer-2",
    }  # fmt: skip
    points = telemetry.points(names.ML_GENAI_EVALUATION_SCORE)
    ((attrs, point),) = points
    assert attrs == {"gen_ai.evaluation.name": "user_feedback", "ml.genai.evaluation.source":
                     "user", "gen_ai.operation.name": "chat", "gen_ai.request.model": "fake-model",
                     "gen_ai.provider.name": "openai"}  # fmt: skip
    assert point.count == 2 and point.sum == pytest.approx(0.75)
    ((reason, dropped),) = telemetry.points(names.ML_GENAI_EVALUATION_DROPPED)
    assert reason == {"ml.genai.evaluation.drop.reason": "unknown_answer"} and dropped.value == 1


@pytest.mark.parametrize(("item", "message"), [
    ({"response_id": "r", "thumbs": "sideways"}, "thumbs='sideways'"),
    ({"response_id": "r", "score": 3}, "score=3"),
    ({"response_id": "", "score": 1}, "response_id"),
    ({"response_id": "r", "score": 1, "thumbs": "up"}, "not both"),
])  # fmt: skip
def test_bad_answer_feedback_is_refused_naming_the_field(
    app_client: TestClient, item: dict[str, Any], message: str
) -> None:
    posted = app_client.post("/feedback", json={"items": [item]})
    assert posted.status_code == 422 and message in posted.json()["detail"], posted.text
    assert "items[0]" in posted.json()["detail"]


def test_record_answer_feedback_in_code(telemetry: Telemetry, app_client: TestClient) -> None:
    app_client.post("/ask/3")
    assert record_answer_feedback("chatcmpl-answer-3", thumbs="up", **telemetry.providers)
    assert not record_answer_feedback("chatcmpl-other", score=1, **telemetry.providers)
    (span,) = feedback_spans(telemetry)
    assert (span.attributes or {})["gen_ai.evaluation.score.label"] == "thumbs_up"
    with pytest.raises(ValueError, match="answer_id"):
        record_answer_feedback("", thumbs="up")
