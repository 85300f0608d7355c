"""The GenAI invocation: one lifecycle (start, stop, fail) for LLM, embedding
and retrieval calls, whichever hook drives it.

Span attributes and metric attributes are kept apart: metrics only ever see
the bounded identity of a call (operation, provider, models, server, error
type); ids, parameters, usage and content go on the span.
"""

from __future__ import annotations

import numbers
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard

from opentelemetry import context, trace
from opentelemetry.trace import SpanKind

from otel_ml import semconv
from otel_ml._internal import guard
from otel_ml._internal.ids import current_request
from otel_ml._internal.lifecycle import Invocation
from otel_ml.config import Settings
from otel_ml.genai.content import ContentPolicy, Redactor, content_policy
from otel_ml.genai.cost import Pricing
from otel_ml.genai.evaluation import state as evaluation_state
from otel_ml.genai.evaluation.answers import Answer
from otel_ml.genai.evaluation.online import OnlineEvaluation
from otel_ml.genai.evaluation.results import EvaluationTelemetry
from otel_ml.genai.instruments import SCOPE, GenAITelemetry
from otel_ml.genai.prices import Usage
from otel_ml.genai.rag import rag_instruments
from otel_ml.genai.tenants import Tenants, TenantSource

_IN_CALL = context.create_key("otel_ml.genai.in_call")
_ANSWERING = (semconv.GEN_AI_CHAT, semconv.GEN_AI_TEXT_COMPLETION)


def traced_elsewhere(operation: str) -> bool:
    """Whether this call is already being recorded as ``operation``: inside an
    otel_ml GenAI call of the same operation, or directly under another
    instrumentation's GenAI span of it (e.g. the contrib openai-v2 one)."""
    if context.get_value(_IN_CALL) == operation:
        return True
    span = trace.get_current_span()
    attributes = getattr(span, "attributes", None)  # SDK spans only; others cannot tell
    if not attributes or attributes.get(semconv.GEN_AI_OPERATION_NAME) != operation:
        return False
    scope = getattr(span, "instrumentation_scope", None)
    return getattr(scope, "name", None) != SCOPE and span.is_recording()


def identity(
    operation: str,
    provider: str | None = None,
    request_model: str | None = None,
    server_address: str | None = None,
    server_port: int | None = None,
) -> dict[str, Any]:
    """The bounded attributes of a call, shared by its span and its metrics
    (``gen_ai.provider.name`` is required on every GenAI metric: ``_OTHER``
    when the caller did not name one)."""
    attrs: dict[str, Any] = {
        semconv.GEN_AI_OPERATION_NAME: operation,
        semconv.GEN_AI_PROVIDER_NAME: provider or semconv.GEN_AI_PROVIDER_OTHER,
    }
    if request_model:
        attrs[semconv.GEN_AI_REQUEST_MODEL] = request_model
    if server_address:
        attrs[semconv.SERVER_ADDRESS] = server_address
        if server_port:
            attrs[semconv.SERVER_PORT] = server_port
    return attrs


class GenAIInvocation(Invocation):
    """One GenAI call: a CLIENT span made current, duration, token and stream metrics.

    Create it with :meth:`start`; end it exactly once with :meth:`stop` or
    :meth:`fail` (later calls are no-ops). Telemetry failures inside never
    reach the caller (see :mod:`otel_ml._internal.guard`).
    """

    __slots__ = ("_first_ns", "_gaps", "_input_tokens", "_last_ns", "_metric_attrs",
                 "_output_tokens", "_pricing", "_response_id", "_response_model",
                 "_telemetry", "_time_per_chunk", "_usage_details")  # fmt: skip
    component = "genai"

    def __init__(
        self,
        telemetry: GenAITelemetry,
        metric_attrs: dict[str, Any],
        time_per_chunk: bool = True,
        pricing: Pricing | None = None,
    ) -> None:
        self._init(telemetry.internal_errors)
        self._telemetry = telemetry
        self._metric_attrs = metric_attrs
        self._time_per_chunk = time_per_chunk
        self._response_model: str | None = None
        self._response_id: str | None = None
        self._input_tokens: int | None = None
        self._output_tokens: int | None = None
        self._gaps: list[int] = []
        self._first_ns = 0
        self._last_ns = 0
        self._pricing = pricing
        self._usage_details: tuple[int, int, int] = (0, 0, 0)

    @classmethod
    def start(
        cls,
        telemetry: GenAITelemetry,
        metric_attrs: dict[str, Any],
        span_name: str,
        attributes: Mapping[str, Any] | None = None,
        time_per_chunk: bool = True,
        pricing: Pricing | None = None,
    ) -> GenAIInvocation:
        """Open the span (kind CLIENT) and make it current.

        ``metric_attrs`` (see :func:`identity`) go on the span and the
        metrics; ``attributes`` on the span only. ``time_per_chunk=False``
        (``OTEL_ML_GENAI_TIME_PER_CHUNK``) records no per-chunk gaps;
        ``pricing`` gives the call its cost from its token usage.
        """
        self = cls(telemetry, metric_attrs, time_per_chunk, pricing)
        try:
            attrs = {**metric_attrs, **attributes} if attributes else metric_attrs
            operation = metric_attrs[semconv.GEN_AI_OPERATION_NAME]
            self._open(
                telemetry.tracer, span_name, SpanKind.CLIENT, attrs, marker=(_IN_CALL, operation)
            )
        except Exception as exc:
            guard.report("genai.start", exc, telemetry.internal_errors)
        self._start_ns = time.perf_counter_ns()
        return self

    def chunk(self) -> None:
        """Note one output chunk (first: time to first chunk; later: the gap)."""
        now = time.perf_counter_ns()
        if self._first_ns:
            self._gaps.append(now - self._last_ns)
        else:
            self._first_ns = now
        self._last_ns = now

    def set_response(
        self,
        model: str | None = None,
        response_id: str | None = None,
        finish_reasons: Sequence[str] | None = None,
    ) -> None:
        """Record what the provider answered with (span; the model also on metrics).

        Values of the wrong type are ignored: a setter never raises in the caller's code.
        """
        attrs: dict[str, Any] = {}
        if isinstance(model, str) and model:
            self._response_model = model
            attrs[semconv.GEN_AI_RESPONSE_MODEL] = model
        if isinstance(response_id, str) and response_id:
            self._response_id = response_id
            attrs[semconv.GEN_AI_RESPONSE_ID] = response_id
        if isinstance(finish_reasons, list | tuple):
            reasons = [r for r in finish_reasons if isinstance(r, str)]
            if reasons:
                attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = reasons
        self.set_attributes(attrs)

    def set_usage(
        self,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        *,
        cache_read: int | None = None,
        cache_write: int | None = None,
        reasoning: int | None = None,
    ) -> None:
        """Token counts as reported by the provider (``None``: not reported, not recorded);
        anything but a count (an int >= 0) is ignored. ``input_tokens`` includes the
        cache reads and writes, ``output_tokens`` the reasoning tokens (they price the call)."""
        if _is_count(input_tokens):
            self._input_tokens = int(input_tokens)
        if _is_count(output_tokens):
            self._output_tokens = int(output_tokens)
        read, write, thought = (int(n) if _is_count(n) else 0
                                for n in (cache_read, cache_write, reasoning))  # fmt: skip
        if read or write or thought:
            self._usage_details = (read, write, thought)

    def record_retrieved(self, count: int, scores: Sequence[float]) -> None:
        """A retrieval's documents: their count and similarity scores as metrics."""
        rag_instruments(self._telemetry).record(count, scores, self._metric_attrs, self._ctx)

    def set_metric_attributes(self, attributes: Mapping[str, Any]) -> None:
        """Bounded strings the response told (``openai.response.service_tier``):
        on the span and on every metric of the call; empty values are skipped."""
        attrs = {k: v for k, v in attributes.items() if isinstance(v, str) and v}
        if attrs:
            self._metric_attrs = {**self._metric_attrs, **attrs}
            self.set_attributes(attrs)

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        """Add span-only attributes (``None`` values are skipped)."""
        span = self._span
        if span is not None and attributes and span.is_recording():
            span.set_attributes({k: v for k, v in attributes.items() if v is not None})

    def on_chunk(self, chunk: Any) -> None:
        """A stream hook (the invocation follows a decorated generator): one chunk."""
        self.chunk()

    def on_end(self, abandoned: bool) -> None:
        """A stream hook: the stream ended (``abandoned``: collected unfinished)."""
        self.stop(abandoned)

    def on_error(self, exc: BaseException) -> None:
        """A stream hook: the producer raised."""
        self.fail(exc)

    def leave_call(self) -> None:
        """The call returned a stream: keep the span current while the caller
        iterates, but no longer as "inside the call", so calls made in the
        loop body are traced as calls of their own."""
        if self._span is None or context.get_current() is not self._ctx:
            return
        self._ctx = trace.set_span_in_context(self._span, self._parent)
        context.attach(self._ctx)

    def stop(self, abandoned: bool = False) -> None:
        """End a successful call. ``abandoned`` (a stream nobody finished):
        the span ends at the last chunk, not at garbage collection."""
        if abandoned and self._last_ns:
            self._end(self._last_ns, None, None, late=True)
        else:
            self._end(time.perf_counter_ns(), None, None)

    def answer(self) -> Answer | None:
        """This call's span and identity, for evaluations of its answer (``None``: not traced)."""
        span = self._span
        if span is None or not span.get_span_context().is_valid:
            return None
        attrs = self._metric_attrs
        return Answer(span.get_span_context(), attrs.get(semconv.GEN_AI_REQUEST_MODEL),
                      attrs[semconv.GEN_AI_PROVIDER_NAME], self._response_id,
                      self._response_model, attrs[semconv.GEN_AI_OPERATION_NAME])  # fmt: skip

    def _remember_answer(self) -> None:
        """Keep a chat answer findable by its response id and request's prediction id."""
        if self._metric_attrs.get(semconv.GEN_AI_OPERATION_NAME) not in _ANSWERING:
            return
        scope = current_request.get()
        keys = [k for k in (self._response_id, scope and scope.claim_prediction_id()) if k]
        answer = self.answer() if keys else None
        if answer is not None:
            evaluation_state.ANSWERS.remember(keys, answer)

    def _record(self, elapsed_s: float, error: str | None) -> None:
        if error is None:
            self._remember_answer()
        t = self._telemetry
        attrs = self._metric_attrs
        if self._response_model is not None:
            attrs = {**attrs, semconv.GEN_AI_RESPONSE_MODEL: self._response_model}
        if error is not None:
            attrs = {**attrs, semconv.ERROR_TYPE: error}
        t.duration.record(elapsed_s, attrs)
        span_attrs: dict[str, Any] = {}
        for token_type, count, key in (
            (semconv.GEN_AI_TOKEN_INPUT, self._input_tokens, semconv.GEN_AI_USAGE_INPUT_TOKENS),
            (semconv.GEN_AI_TOKEN_OUTPUT, self._output_tokens, semconv.GEN_AI_USAGE_OUTPUT_TOKENS),
        ):
            if count is not None:
                t.tokens.record(count, {**attrs, semconv.GEN_AI_TOKEN_TYPE: token_type})
                span_attrs[key] = count
        if self._pricing is not None and (self._input_tokens or self._output_tokens):
            span_attrs.update(self._cost(self._pricing, attrs))
        if self._first_ns:
            first = (self._first_ns - self._start_ns) / 1e9
            t.first_chunk.record(first, attrs)
            span_attrs[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = first
            if self._time_per_chunk:
                # self._ctx holds this call's span: exemplars of the gaps point at its trace.
                t.per_chunk.record_many([gap / 1e9 for gap in self._gaps], attrs, self._ctx)
        self.set_attributes(span_attrs)

    def _cost(self, pricing: Pricing, attrs: dict[str, Any]) -> dict[str, Any]:
        read, write, reasoning = self._usage_details
        usage = Usage(self._input_tokens or 0, self._output_tokens or 0, read, write, reasoning)
        return pricing.record(self._telemetry, attrs, usage)


@dataclass(frozen=True)
class GenAIConfig:
    """What every call of one entry point shares, resolved once at that entry
    point: the instruments, the content policy and the per-chunk switch."""

    telemetry: GenAITelemetry
    content: ContentPolicy
    time_per_chunk: bool = True
    pricing: Pricing | None = None
    tenants: Tenants | None = None
    evaluation: OnlineEvaluation | None = None
    """Online evaluation of a sampled share of calls (``OTEL_ML_GENAI_EVALUATION_RATE``)."""

    @classmethod
    def resolve(
        cls,
        settings: Settings,
        providers: tuple[Any, Any] = (None, None),
        capture: bool | None = None,
        redact: Redactor | None = None,
        max_length: int | None = None,
        prices: Mapping[str, Any] | None = None,
        tenant: TenantSource | None = None,
    ) -> GenAIConfig:
        """The config for ``settings``, ``(tracer_provider, meter_provider)`` and
        the content, price and tenant arguments of an entry point (``None``: the
        settings decide)."""
        evaluation_state.size_answers(settings.genai_answers_kept, settings.feedback_ttl_seconds)
        return cls(
            GenAITelemetry.of(*providers),
            content_policy(capture, redact, max_length, settings),
            settings.genai_time_per_chunk,
            Pricing.for_entry_point(settings.genai_prices, prices),
            Tenants.resolve(settings, tenant),
            OnlineEvaluation.from_settings(settings, EvaluationTelemetry.of(*providers)),
        )

    def start(
        self, metric_attrs: dict[str, Any], span_name: str, attributes: Mapping[str, Any]
    ) -> GenAIInvocation:
        """Start one call of this entry point (see :meth:`GenAIInvocation.start`)."""
        if self.tenants is not None:
            metric_attrs = self.tenants.tag(metric_attrs)
        return GenAIInvocation.start(
            self.telemetry, metric_attrs, span_name, attributes, self.time_per_chunk, self.pricing
        )


def _is_count(value: Any) -> TypeGuard[int]:
    # OTLP ints are 64-bit; a negative or huge "count" from a server is not one.
    return (
        isinstance(value, numbers.Integral)
        and not isinstance(value, bool)
        and 0 <= int(value) < 2**63
    )
