"""Online evaluation: a sampled share of LLM calls scored after the response.

On the request path a hook asks :meth:`OnlineEvaluation.sampled` (one random
number) when a call starts and, for a sampled call, hands question and answer
to :meth:`OnlineEvaluation.submit` when it ends: a non-blocking put into a
bounded queue. The worker thread then runs the evaluators (the judge within
its rate limit and timeout, the user's callables) and records each result.
Content leaves the process only when capture is on or
``OTEL_ML_GENAI_EVALUATION_CONTENT`` says so; otherwise a sampled call is
dropped (``no_content``) before anything is queued.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from otel_ml import semconv
from otel_ml._internal.log_once import FirstSeen
from otel_ml.config import Settings, SettingsError
from otel_ml.genai.evaluation import evaluators, names, state
from otel_ml.genai.evaluation.answers import Answer
from otel_ml.genai.evaluation.evaluators import Exchange
from otel_ml.genai.evaluation.judge import Judge, JudgeError, RateLimit
from otel_ml.genai.evaluation.results import EvaluationTelemetry, record_result
from otel_ml.genai.evaluation.worker import Worker

_logger = logging.getLogger("otel_ml")
_same_model_logged = FirstSeen()
_failed_logged = FirstSeen()


@dataclass(frozen=True)
class Job:
    """One sampled call waiting for its evaluators."""

    answer: Answer
    exchange: Exchange
    explain: bool


class OnlineEvaluation:
    """The sampler, queue, worker and judge of one entry point's calls."""

    def __init__(self, telemetry: EvaluationTelemetry, rate: float, judge: Judge | None,
                 built_in: tuple[str, ...], limit: RateLimit, content: bool,
                 queue_size: int, draw: Callable[[], float] = random.random) -> None:  # fmt: skip
        self.telemetry = telemetry
        self.rate = rate
        self.judge = judge
        self.built_in = built_in
        self.limit = limit
        self.content = content
        self._draw = draw
        self.worker = Worker(self._handle, queue_size, "otel-ml-evaluation")
        state.started(self)

    @classmethod
    def from_settings(cls, settings: Settings, telemetry: EvaluationTelemetry
                      ) -> OnlineEvaluation | None:  # fmt: skip
        """The evaluation ``settings`` ask for; ``None`` at rate 0 (the default).

        Raises :class:`SettingsError` naming the variable when a built-in
        evaluator is on without a judge, or an evaluator name is unknown.
        """
        if settings.genai_evaluation_rate == 0:
            return None
        chosen = settings.genai_evaluation_evaluators
        unknown = [n for n in chosen if n not in evaluators.BUILT_IN]
        if unknown:
            raise SettingsError(
                f"OTEL_ML_GENAI_EVALUATION_EVALUATORS: unknown evaluator(s) {', '.join(unknown)}; "
                f"built in: {', '.join(evaluators.BUILT_IN)} (register_evaluator() adds others)"
            )
        return cls(telemetry, settings.genai_evaluation_rate, _judge(settings) if chosen else None,
                   chosen, RateLimit(settings.genai_evaluation_calls_per_minute),
                   settings.genai_evaluation_content,
                   settings.genai_evaluation_queue_size)  # fmt: skip

    def sampled(self) -> bool:
        """Whether the call starting now is evaluated (request path: one random draw)."""
        return self._draw() < self.rate

    def submit(self, answer: Answer | None, question: str | None, text: str | None,
               capture: bool) -> None:  # fmt: skip
        """Queue a sampled call's evaluation (request path: never blocks)."""
        if not (capture or self.content):
            self.telemetry.drop("no_content")
            return
        if answer is None or not text:
            return
        exchange = Exchange(question or "", text, state.PASSAGES.get(answer.span_context.trace_id),
                            answer.request_model, answer.response_model)  # fmt: skip
        if not self.worker.offer(Job(answer, exchange, True)):
            self.telemetry.drop("queue_full")

    def _handle(self, job: Job) -> None:
        for name in self.built_in:
            prompt = evaluators.judge_prompt(name, job.exchange)
            if prompt is not None:
                self._ask_judge(name, prompt, job)
        for name, evaluator in evaluators.registered().items():
            self._run_user(name, evaluator, job)

    def _ask_judge(self, name: str, prompt: tuple[str, str], job: Job) -> None:
        judge, answer = self.judge, job.answer
        if judge is None:
            return
        if judge.model in (answer.request_model, answer.response_model):
            _refuse_same_model(judge.model)
            self.telemetry.error(name, answer, "same_model")
            return
        if not self.limit.allow():
            self.telemetry.drop("rate_limited")
            return
        try:
            result = judge.ask(*prompt, name)
        except JudgeError as exc:
            self.telemetry.error(name, answer, exc.kind)
            return
        record_result(self.telemetry, answer, result, names.SOURCE_JUDGE, job.explain)

    def _run_user(self, name: str, evaluator: evaluators.UserEvaluator, job: Job) -> None:
        try:
            result = evaluators.as_result(name, evaluator(job.exchange))
        except Exception as exc:  # the user's code: counted and logged once, never raised
            if _failed_logged(name):
                _logger.warning("otel_ml: evaluator %r failed: %r", name, exc, exc_info=exc)
            self.telemetry.error(name, job.answer, type(exc).__qualname__)
            return
        if result is not None:
            record_result(self.telemetry, job.answer, result, names.SOURCE_CODE, job.explain)

    def close(self, timeout_s: float = 5.0) -> None:
        """Finish the queued evaluations (at most ``timeout_s``) and stop the worker."""
        self.worker.close(timeout_s)
        state.stopped(self)


def _judge(settings: Settings) -> Judge:
    missing = [var for var, value in (
        ("OTEL_ML_GENAI_EVALUATION_JUDGE_URL", settings.genai_evaluation_judge_url),
        ("OTEL_ML_GENAI_EVALUATION_JUDGE_MODEL", settings.genai_evaluation_judge_model),
    ) if not value]  # fmt: skip
    if missing:
        raise SettingsError(
            f"OTEL_ML_GENAI_EVALUATION_RATE={settings.genai_evaluation_rate} with the evaluators "
            f"{', '.join(settings.genai_evaluation_evaluators)} needs {' and '.join(missing)} "
            "(or OTEL_ML_GENAI_EVALUATION_EVALUATORS= to run registered evaluators only)"
        )
    return Judge(str(settings.genai_evaluation_judge_url),
                 str(settings.genai_evaluation_judge_model),
                 os.environ.get(settings.genai_evaluation_judge_api_key_env),
                 settings.genai_evaluation_timeout)  # fmt: skip


def _refuse_same_model(model: str) -> None:
    if _same_model_logged(model):
        _logger.error(
            "otel_ml: OTEL_ML_GENAI_EVALUATION_JUDGE_MODEL=%r is the model being judged; a model "
            "does not judge its own answers: set a different judge model (counted as "
            "ml.genai.evaluation.errors{error.type=same_model})", model,
        )  # fmt: skip


class Sample:
    """A call drawn for online evaluation: its evaluation and question, until the answer.

    ``content`` says whether content may leave (capture or the evaluation
    opt-in): the hook then keeps the answer's text for the judge."""

    __slots__ = ("capture", "content", "evaluation", "question")

    def __init__(self, evaluation: OnlineEvaluation, capture: bool,
                 messages: Callable[[], Iterable[Mapping[str, Any]]]) -> None:  # fmt: skip
        self.evaluation = evaluation
        self.capture = capture
        self.content = capture or evaluation.content
        self.question = last_user_text(messages()) if self.content else None

    def submit(self, answer: Answer | None, text: str | None) -> None:
        """Hand the answer to the evaluation (request path: a non-blocking put)."""
        self.evaluation.submit(answer, self.question, text, self.capture)


def draw(evaluation: OnlineEvaluation | None, operation: str, capture: bool,
         messages: Callable[[], Iterable[Mapping[str, Any]]]) -> Sample | None:  # fmt: skip
    """The :class:`Sample` of a call of ``operation`` starting now, or ``None``
    when it is not drawn (embeddings never are: they give no answer).

    ``messages`` gives the request's semconv-shaped messages; it runs only for
    a sampled call whose content may leave (capture or the evaluation opt-in).
    """
    if evaluation is None or operation == semconv.GEN_AI_EMBEDDINGS or not evaluation.sampled():
        return None
    return Sample(evaluation, capture, messages)


def last_user_text(messages: Iterable[Mapping[str, Any]]) -> str | None:
    """The text of the last user message of semconv-shaped ``messages``."""
    text = None
    for message in messages:
        if message.get("role") == "user":
            parts = [p.get("content") for p in message.get("parts", ()) if p.get("type") == "text"]
            text = "\n".join(p for p in parts if isinstance(p, str)) or text
    return text
