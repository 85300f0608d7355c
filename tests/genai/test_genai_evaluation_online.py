"""Online evaluation with the real ``openai`` client: the stand-in LLM answers
and, as the judge, scores a sampled share of answers off the request path."""

from __future__ import annotations

import math
import threading

import pytest
from evaluation_support import ANSWER, JUDGE_MODEL, QUESTION, rig
from opentelemetry.trace import SpanKind
from support import Telemetry

from otel_ml.config import Settings, SettingsError
from otel_ml.demo.llm_judge import JudgeStandIn
from otel_ml.genai import retrieval
from otel_ml.genai.evaluation import EvaluationResult, Exchange, names, register_evaluator
from otel_ml.genai.evaluation.online import OnlineEvaluation
from otel_ml.genai.evaluation.results import EvaluationTelemetry

RELEVANCE_ONLY = {"genai_evaluation_evaluators": ("relevance",), "capture_content": True}


def test_a_sampled_answer_is_judged_in_the_trace_of_its_span(telemetry: Telemetry) -> None:
    with rig(telemetry, **RELEVANCE_ONLY) as r:
        r.ask(id="chatcmpl-judged-1")
        r.settle()
        chat = telemetry.span("chat fake-model")
        (result,) = r.results()
        assert result.name == "evaluation relevance" and result.kind is SpanKind.INTERNAL
        assert result.parent is not None and result.parent.span_id == chat.context.span_id
        assert result.context.trace_id == chat.context.trace_id
        assert [link.context.span_id for link in result.links] == [chat.context.span_id]
        (event,) = result.events
        assert event.name == "gen_ai.evaluation.result"
        # "paris", "capital", "france": two of the three are in the question.
        assert dict(event.attributes or {}) == {
            "gen_ai.evaluation.name": "relevance", "gen_ai.evaluation.score.value": 0.67,
            "gen_ai.evaluation.score.label": "pass", "gen_ai.response.id": "chatcmpl-judged-1",
            "gen_ai.evaluation.explanation": "2 of 3 words supported",
        }  # fmt: skip
        ((attrs, point),) = telemetry.points(names.ML_GENAI_EVALUATION_SCORE)
        assert attrs == {"gen_ai.evaluation.name": "relevance",
                         "ml.genai.evaluation.source": "judge", "gen_ai.operation.name": "chat",
                         "gen_ai.request.model": "fake-model",
                         "gen_ai.provider.name": "openai"}  # fmt: skip
        assert point.count == 1 and point.sum == pytest.approx(0.67)
        (sent,) = r.judge.received
        assert sent["model"] == JUDGE_MODEL and QUESTION in sent["messages"][1]["content"]


def test_groundedness_reads_the_passages_retrieved_in_the_same_trace(
    telemetry: Telemetry,
) -> None:
    settings = {"genai_evaluation_evaluators": ("groundedness",), "capture_content": True}
    with rig(telemetry, **settings) as r:
        tracer = telemetry.tracer_provider.get_tracer("test")
        with tracer.start_as_current_span("rag request"):
            with retrieval("docs", **telemetry.providers) as call:
                call.record_documents([{"text": "Paris is the capital and largest city."}])
            r.ask(words=["Paris ", "capital ", "Berlin ", "Munich."])
        r.ask()  # no retrieval in its trace: no groundedness
        r.settle()
        (result,) = r.results()
        (event,) = result.events
        assert event.attributes is not None
        assert event.attributes["gen_ai.evaluation.name"] == "groundedness"
        assert event.attributes["gen_ai.evaluation.score.value"] == 0.5  # Berlin, Munich made up
        assert event.attributes["gen_ai.evaluation.score.label"] == "pass"
        assert "[1] Paris is the capital" in r.judge.received[0]["messages"][1]["content"]


def test_the_sampling_rate_is_honoured_within_binomial_tolerance(telemetry: Telemetry) -> None:
    seen: list[Exchange] = []
    undo = register_evaluator("counted", lambda exchange: seen.append(exchange) or 1.0)
    calls, rate = 300, 0.25
    try:
        with rig(telemetry, genai_evaluation_rate=rate, genai_evaluation_evaluators=(),
                 capture_content=True) as r:  # fmt: skip
            for _ in range(calls):
                r.ask()
            r.settle()
    finally:
        undo()
    sd = math.sqrt(calls * rate * (1 - rate))
    assert abs(len(seen) - calls * rate) <= 4.5 * sd, len(seen)  # false failure: < 1e-5
    assert r.judge.received == []  # no built-in evaluator: nothing sent to a judge
    assert seen[0] == Exchange(QUESTION, "".join(ANSWER), (), "fake-model",
                               "fake-model-2024-01-01")  # fmt: skip


def test_the_call_returns_before_the_judge_answers(telemetry: Telemetry) -> None:
    judge = JudgeStandIn(gate=threading.Event())
    with rig(telemetry, judge, **RELEVANCE_ONLY) as r:
        completion = r.ask()
        # The call is back while the judge still holds its verdict: nothing recorded yet.
        assert completion.choices[0].message.content == "".join(ANSWER)
        assert r.results() == [] and r.evaluation.worker.pending() == 1
        judge.gate.set()  # type: ignore[union-attr]
        r.settle()
        assert len(r.results()) == 1


def test_the_queue_is_bounded_and_drops_are_counted(telemetry: Telemetry) -> None:
    judge = JudgeStandIn(gate=threading.Event())
    with rig(telemetry, judge, genai_evaluation_queue_size=2, **RELEVANCE_ONLY) as r:
        for _ in range(6):
            r.ask()
            assert r.evaluation.worker.pending() <= 3  # two queued, one at the judge
        dropped = r.dropped("queue_full")
        judge.gate.set()  # type: ignore[union-attr]
        r.settle()
        assert dropped >= 3 and len(r.results()) == 6 - dropped


@pytest.mark.parametrize(("judge", "error_type"), [
    (JudgeStandIn(delay=2.0), "timeout"), (JudgeStandIn(status=500), "500"),
])  # fmt: skip
def test_judge_timeouts_and_errors_are_counted(
    telemetry: Telemetry, judge: JudgeStandIn, error_type: str
) -> None:
    with rig(telemetry, judge, genai_evaluation_timeout=0.2, **RELEVANCE_ONLY) as r:
        r.ask()
        r.ask()
        r.settle()
        assert r.errors(error_type) == 2 and r.results() == []
        assert telemetry.points(names.ML_GENAI_EVALUATION_SCORE) == []


def test_no_content_leaves_without_an_opt_in(telemetry: Telemetry) -> None:
    with rig(telemetry, genai_evaluation_evaluators=("relevance",)) as r:
        r.ask()
        r.ask()
        r.settle()
        assert r.judge.received == [] and r.results() == []
        assert r.dropped("no_content") == 2


def test_the_evaluation_opt_in_sends_content_to_the_judge_only(telemetry: Telemetry) -> None:
    settings = {"genai_evaluation_evaluators": ("relevance",), "genai_evaluation_content": True}
    with rig(telemetry, **settings) as r:
        r.ask()
        r.settle()
        assert QUESTION in r.judge.received[0]["messages"][1]["content"]
        chat = telemetry.span("chat fake-model")
        assert not {"gen_ai.input.messages", "gen_ai.output.messages"} & set(chat.attributes or {})
        assert len(r.results()) == 1


def test_a_model_never_judges_itself(telemetry: Telemetry) -> None:
    with rig(telemetry, genai_evaluation_judge_model="fake-model", **RELEVANCE_ONLY) as r:
        r.ask()
        r.settle()
        assert r.judge.received == [] and r.errors("same_model") == 1


def test_judge_calls_per_minute_are_capped(telemetry: Telemetry) -> None:
    with rig(telemetry, genai_evaluation_calls_per_minute=2, **RELEVANCE_ONLY) as r:
        for _ in range(5):
            r.ask()
        r.settle()
        assert len(r.judge.received) == 2 and r.dropped("rate_limited") == 3


def test_user_evaluators_are_recorded_and_their_failures_counted(telemetry: Telemetry) -> None:
    def length(exchange: Exchange) -> EvaluationResult:
        return EvaluationResult("length", 1.0 if len(exchange.answer) < 100 else 0.0, "short")

    def broken(exchange: Exchange) -> float:
        raise RuntimeError("evaluator bug")

    undo = [register_evaluator("length", length), register_evaluator("broken", broken)]
    try:
        with rig(telemetry, genai_evaluation_evaluators=(), capture_content=True) as r:
            r.ask()
            r.settle()
            (result,) = r.results()
            assert (result.attributes or {})["ml.genai.evaluation.source"] == "code"
            assert (result.attributes or {})["gen_ai.evaluation.score.label"] == "short"
            assert r.errors("RuntimeError") == 1
    finally:
        for u in undo:
            u()
    with pytest.raises(ValueError, match="relevance"):
        register_evaluator("relevance", length)


def test_settings_without_a_judge_are_refused_naming_the_variable() -> None:
    telemetry = EvaluationTelemetry.of(None, None)
    assert OnlineEvaluation.from_settings(Settings.load({}), telemetry) is None
    settings = Settings.load({"OTEL_ML_GENAI_EVALUATION_RATE": "0.1"})
    with pytest.raises(SettingsError, match="OTEL_ML_GENAI_EVALUATION_JUDGE_URL"):
        OnlineEvaluation.from_settings(settings, telemetry)
    with pytest.raises(SettingsError, match="OTEL_ML_GENAI_EVALUATION_RATE"):
        Settings.load({"OTEL_ML_GENAI_EVALUATION_RATE": "1.5"})
    unknown = settings.replace(genai_evaluation_evaluators=("vibes",))
    with pytest.raises(SettingsError, match="vibes"):
        OnlineEvaluation.from_settings(unknown, telemetry)
