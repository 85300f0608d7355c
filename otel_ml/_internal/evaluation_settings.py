"""The settings of GenAI evaluation (answer feedback, online judges): a base of
``otel_ml.config.Settings`` declared in the same way, so ``Settings`` stays one
frozen object while config.py stays small."""

from __future__ import annotations

from dataclasses import dataclass

from otel_ml._internal import values as _values

_setting = _values.setting


@dataclass(frozen=True)
class EvaluationSettings:
    """Fields of ``Settings`` for GenAI answer evaluation."""

    genai_evaluation_rate: float = _setting(
        0.0, "OTEL_ML_GENAI_EVALUATION_RATE", _values.parse_rate,
        "Share of LLM chat calls (0 to 1) scored by the judge after the response, off the "
        "request path; 0 (the default): none.",
    )  # fmt: skip
    genai_evaluation_judge_url: str | None = _setting(
        None, "OTEL_ML_GENAI_EVALUATION_JUDGE_URL", _values.parse_optional_str,
        "Base URL of the judge, any OpenAI-compatible endpoint (`https://host/v1`); needed "
        "when the rate is above 0 and a built-in evaluator is on.",
    )  # fmt: skip
    genai_evaluation_judge_model: str | None = _setting(
        None, "OTEL_ML_GENAI_EVALUATION_JUDGE_MODEL", _values.parse_optional_str,
        "The judge's model; it must differ from the model it judges (such calls are refused).",
    )  # fmt: skip
    genai_evaluation_judge_api_key_env: str = _setting(
        "OTEL_ML_GENAI_EVALUATION_JUDGE_API_KEY", "OTEL_ML_GENAI_EVALUATION_JUDGE_API_KEY_ENV",
        _values.parse_str,
        "Name of the environment variable holding the judge's API key (sent as a bearer token).",
    )  # fmt: skip
    genai_evaluation_timeout: float = _setting(
        10.0, "OTEL_ML_GENAI_EVALUATION_TIMEOUT", _values.parse_positive_float,
        "Seconds one judge call may take; slower calls are counted as `timeout` errors.",
    )  # fmt: skip
    genai_evaluation_calls_per_minute: int = _setting(
        60, "OTEL_ML_GENAI_EVALUATION_CALLS_PER_MINUTE", _values.parse_positive_int,
        "Judge calls per minute at most (the budget cap); evaluations above it are dropped "
        "and counted (`rate_limited`).",
    )  # fmt: skip
    genai_evaluation_queue_size: int = _setting(
        1000, "OTEL_ML_GENAI_EVALUATION_QUEUE_SIZE", _values.parse_positive_int,
        "Sampled calls waiting for the judge; more are dropped and counted (`queue_full`).",
    )  # fmt: skip
    genai_evaluation_content: bool = _setting(
        False, "OTEL_ML_GENAI_EVALUATION_CONTENT", _values.parse_bool,
        "Send question, answer and retrieved passages to the judge even when content capture "
        "is off; without this or capture, sampled calls are dropped (`no_content`).",
    )  # fmt: skip
    genai_evaluation_evaluators: tuple[str, ...] = _setting(
        ("relevance", "groundedness"), "OTEL_ML_GENAI_EVALUATION_EVALUATORS", _values.parse_names,
        "Evaluators run on a sampled call: built-in `relevance`, `groundedness` (RAG calls "
        "only) and names given to `register_evaluator`.",
    )  # fmt: skip
    genai_answers_kept: int = _setting(
        10_000, "OTEL_ML_GENAI_ANSWERS_KEPT", _values.parse_positive_int,
        "Recent LLM answers whose span user feedback can be linked to (by response id or "
        "prediction id); kept up to `OTEL_ML_FEEDBACK_TTL_SECONDS`.",
    )  # fmt: skip
