"""Evaluation of GenAI answers: user feedback and online LLM judges, recorded
as ``gen_ai.evaluation.result`` linked to the answer's span and as the
``ml.genai.evaluation.score`` histogram (see docs/metrics.md)."""

from otel_ml.genai.evaluation.evaluators import Exchange, register_evaluator
from otel_ml.genai.evaluation.feedback import record_answer_feedback
from otel_ml.genai.evaluation.results import EvaluationResult

__all__ = ["EvaluationResult", "Exchange", "record_answer_feedback", "register_evaluator"]
