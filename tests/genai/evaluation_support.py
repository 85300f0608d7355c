"""An instrumented client against the stand-in LLM, which is also the judge
(the ``openai`` client; or another hook's instrumentor, its calls made to ``url``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import openai
from support import Telemetry

from otel_ml.config import Settings
from otel_ml.demo.llm_judge import JudgeStandIn
from otel_ml.demo.llm_server import running_server
from otel_ml.genai.evaluation import names, state
from otel_ml.genai.evaluation.online import OnlineEvaluation
from otel_ml.instrumentation._patching import PatchingInstrumentor
from otel_ml.instrumentation.openai import OpenAIInstrumentor

JUDGE_MODEL = "fake-judge"
QUESTION = "What is the capital of France?"
ANSWER = ["Paris ", "is ", "the ", "capital ", "of ", "France."]


@dataclass
class Rig:
    """The client, the judge stand-in, the online evaluation and the telemetry."""

    client: openai.OpenAI
    url: str
    judge: JudgeStandIn
    evaluation: OnlineEvaluation
    telemetry: Telemetry

    def ask(self, question: str = QUESTION, words: list[str] | None = None, **fake: Any) -> Any:
        return self.client.chat.completions.create(
            model="fake-model", messages=[{"role": "user", "content": question}],
            extra_body={"fake": {"words": words or ANSWER, **fake}},
        )  # fmt: skip

    def settle(self) -> None:
        assert self.evaluation.worker.wait_idle(10.0), "the evaluation worker did not finish"

    def results(self) -> list[Any]:
        """Evaluation spans, oldest first."""
        return [s for s in self.telemetry.spans() if s.name.startswith("evaluation ")]

    def counter(self, name: str) -> dict[tuple[tuple[str, Any], ...], int]:
        return {tuple(sorted(a.items())): p.value for a, p in self.telemetry.points(name)}

    def dropped(self, reason: str) -> int:
        return sum(v for k, v in self.counter(names.ML_GENAI_EVALUATION_DROPPED).items()
                   if (names.ML_GENAI_EVALUATION_DROP_REASON, reason) in k)  # fmt: skip

    def errors(self, error_type: str) -> int:
        return sum(v for k, v in self.counter(names.ML_GENAI_EVALUATION_ERRORS).items()
                   if ("error.type", error_type) in k)  # fmt: skip


@contextmanager
def rig(telemetry: Telemetry, judge: JudgeStandIn | None = None,
        instrumentor: type[PatchingInstrumentor] = OpenAIInstrumentor, **settings: Any
        ) -> Iterator[Rig]:  # fmt: skip
    """Instrument with online evaluation (``settings`` over rate 1 and this judge)."""
    judge = judge or JudgeStandIn()
    with running_server(judge=judge) as url:
        values = {"genai_evaluation_rate": 1.0, "genai_evaluation_judge_url": url,
                  "genai_evaluation_judge_model": JUDGE_MODEL, **settings}  # fmt: skip
        hook = instrumentor()
        before = set(map(id, state.running()))
        hook.instrument(settings=Settings.load({}, **values), **telemetry.providers)
        evaluation = next(e for e in state.running() if id(e) not in before)
        try:
            with openai.OpenAI(base_url=url, api_key="sk-test", max_retries=0) as client:
                yield Rig(client, url, judge, evaluation, telemetry)
        finally:
            hook.uninstrument()
            if judge.gate is not None:
                judge.gate.set()
            evaluation.close()
