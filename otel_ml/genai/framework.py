"""Spans of the frameworks' own steps: a chain or query run that holds a RAG
call's retrieval, embedding and chat spans in one trace, and a tool run
(``execute_tool {tool}``). Both are INTERNAL spans, made current while the
step runs, with no metrics of their own (the calls under them have theirs).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from opentelemetry.trace import SpanKind, Tracer

from otel_ml import semconv
from otel_ml._internal import guard
from otel_ml._internal.lifecycle import Invocation
from otel_ml.genai.invocation import GenAIConfig


class StepInvocation(Invocation):
    """One framework step: an INTERNAL span, current until it ends."""

    __slots__ = ()
    component = "genai.step"

    @classmethod
    def start(cls, config: GenAIConfig, name: str, attributes: Mapping[str, Any]) -> StepInvocation:
        """Open the span ``name`` as a child of the current context and make it current."""
        self = cls()
        self._init(config.telemetry.internal_errors)
        tracer: Tracer = config.telemetry.tracer
        try:
            self._open(tracer, name, SpanKind.INTERNAL, attributes)
        except Exception as exc:
            guard.report("genai.step.start", exc, config.telemetry.internal_errors)
        self._start_ns = time.perf_counter_ns()
        return self

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        """Add span attributes (``None`` values are skipped)."""
        span = self._span
        if span is not None and span.is_recording():
            span.set_attributes({k: v for k, v in attributes.items() if v is not None})


def tool_step(
    config: GenAIConfig, tool: str | None, call_id: str | None, arguments: Any = None
) -> StepInvocation:
    """Start an ``execute_tool {tool}`` span (arguments only with content capture)."""
    attrs = {semconv.GEN_AI_OPERATION_NAME: semconv.GEN_AI_EXECUTE_TOOL,
             semconv.GEN_AI_TOOL_NAME: tool, semconv.GEN_AI_TOOL_CALL_ID: call_id,
             semconv.GEN_AI_TOOL_TYPE: "function",
             semconv.GEN_AI_TOOL_CALL_ARGUMENTS: config.content.text(arguments)}  # fmt: skip
    name = semconv.genai_span_name(semconv.GEN_AI_EXECUTE_TOOL, tool)
    return StepInvocation.start(config, name, {k: v for k, v in attrs.items() if v is not None})
