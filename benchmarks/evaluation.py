"""What online evaluation costs on the request path of an LLM call, sampled in and out.

Times, in interleaved rounds in one process, what the openai hook adds to a
chat call for evaluation: nothing at rate 0 (no evaluation object); one
random draw for a call not sampled; for a sampled call the draw, the question
read from the request's messages and the non-blocking put into the bounded
queue (the worker thread runs meanwhile, with no judge: no network). Beside
them, the floor of the GenAI benchmark (one SDK span and one histogram
record), to size them against a whole call's telemetry::

    python benchmarks/evaluation.py [--quick] [--rounds R] [--write-readme]
"""

from __future__ import annotations

from _common import Stats, interleave, markdown_table, publish, ratio_of_medians, timing_run
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanContext

from otel_ml.config import Settings
from otel_ml.genai.evaluation.answers import Answer
from otel_ml.genai.evaluation.online import OnlineEvaluation, last_user_text
from otel_ml.genai.evaluation.results import EvaluationTelemetry
from otel_ml.instrumentation.openai.extract import input_messages

MESSAGES = [
    {"role": "system", "content": "Answer from the context."},
    {"role": "user", "content": "Context: [1] Paris is in France.\n\nQuestion: where?"},
]
ANSWER_TEXT = "Paris is in France [1]."


def variants() -> dict[str, object]:
    tracer_provider, reader = TracerProvider(), InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    telemetry = EvaluationTelemetry.of(tracer_provider, meter_provider)
    settings = Settings.load({}, genai_evaluation_rate=0.5, genai_evaluation_evaluators=(),
                             genai_evaluation_queue_size=1_000_000)  # fmt: skip
    out = OnlineEvaluation.from_settings(settings.replace(), telemetry)
    inside = OnlineEvaluation.from_settings(settings, telemetry)
    assert out is not None
    assert inside is not None
    out._draw, inside._draw = (lambda: 0.9), (lambda: 0.1)  # fixed draws: known branches
    answer = Answer(SpanContext(1, 2, False), "model", "openai", "chatcmpl-1")
    tracer = tracer_provider.get_tracer("floor")
    histogram = meter_provider.get_meter("floor").create_histogram("floor", unit="s")
    attrs = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai"}
    none = None

    def rate_zero() -> bool:
        return none is not None

    def sampled_in() -> None:
        if inside.sampled():
            question = last_user_text(input_messages("chat", {"messages": MESSAGES}))
            inside.submit(answer, question, ANSWER_TEXT, True)

    def floor() -> None:
        with tracer.start_as_current_span("chat model"):
            histogram.record(0.1, attrs)

    return {"floor: one span + one histogram record": floor,
            "rate 0 (no evaluation)": rate_zero, "sampled out: one draw": out.sampled,
            "sampled in: draw, question, enqueue": sampled_in}  # fmt: skip


def main() -> None:
    run = timing_run(__doc__.splitlines()[0], 21, 20_000, 2_000)
    samples = interleave(variants(), run.rounds, run.calls)  # type: ignore[arg-type]
    floor = samples[next(iter(samples))]
    rows = [
        [name, Stats.of(found).format(0, " ns"),
         ratio_of_medians(found, floor).format(3, "x")]
        for name, found in samples.items()
    ]  # fmt: skip
    table = markdown_table(["request path", "per call", "vs floor"], rows)
    command = "python benchmarks/evaluation.py" + (" --quick" if run.quick else "")
    publish(table, command, ("opentelemetry-sdk",), "evaluation" if run.write_readme else None)


if __name__ == "__main__":
    main()
