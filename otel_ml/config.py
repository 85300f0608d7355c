"""Settings: one frozen object, each setting declared once with its variable.

Precedence: keyword arguments > ``OTEL_ML_*`` variables > standard ``OTEL_*``
variables (where a setting has one) > defaults. The environment is passed in
(``Settings.load(environ=...)``) so tests never touch ``os.environ``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from otel_ml._internal import values as _values
from otel_ml._internal.evaluation_settings import EvaluationSettings

__all__ = ["Settings", "SettingsError", "get_settings", "settings_table"]


_logger = logging.getLogger("otel_ml")
_warned: set[tuple[str, str]] = set()


class SettingsError(ValueError):
    """A setting has a value otel_ml cannot use; the message names its source."""


_setting = _values.setting


@dataclass(frozen=True)
class Settings(EvaluationSettings):
    """Everything otel_ml can be configured with. Build it with :meth:`load`."""

    model_name: str | None = _setting(
        None,
        "OTEL_ML_MODEL_NAME",
        _values.parse_optional_str,
        "Model name for auto-instrumented calls; default: the model's class name (a "
        "transformers model or pipeline: its `name_or_path`, else the pipeline's task).",
    )
    model_version: str = _setting(
        "unknown",
        "OTEL_ML_MODEL_VERSION",
        _values.parse_str,
        "Model version for auto-instrumented calls.",
    )
    strict: bool = _setting(
        False,
        "OTEL_ML_STRICT",
        _values.parse_bool,
        "Re-raise failures inside otel_ml's telemetry code instead of swallowing them (tests).",
    )
    max_class_labels: int = _setting(
        50,
        "OTEL_ML_MAX_CLASS_LABELS",
        _values.parse_positive_int,
        "Distinct class labels per model on metrics; further labels become `__other__`.",
    )  # fmt: skip
    max_rows_recorded: int = _setting(
        1024,
        "OTEL_ML_MAX_ROWS_RECORDED",
        _values.parse_positive_int,
        "Rows of one batch call recorded into the confidence histogram (evenly sampled above).",
    )  # fmt: skip
    prediction_id_header: str = _setting(
        "x-prediction-id",
        "OTEL_ML_PREDICTION_ID_HEADER",
        _values.parse_header_name,
        "Response header that carries the request's prediction id.",
    )
    http_asgi_spans: bool = _setting(
        False,
        "OTEL_ML_HTTP_ASGI_SPANS",
        _values.parse_bool,
        "Keep the ASGI `receive`/`send` child spans of the FastAPI instrumentation.",
    )
    http_instrumentation: str = _setting(
        "otel_ml",
        "OTEL_ML_HTTP_INSTRUMENTATION",
        _values.parse_http_layer,
        "HTTP server layer of `instrument(app)`: `otel_ml` (one lean middleware) or `contrib` "
        "(the contrib FastAPI instrumentation; needed for `OTEL_ML_HTTP_ASGI_SPANS`).",
    )
    instrument_sklearn: bool = _setting(
        True,
        "OTEL_ML_INSTRUMENT_SKLEARN",
        _values.parse_bool,
        "`instrument(app)` also patches scikit-learn estimators when scikit-learn is installed.",
    )
    logits_softmax: bool = _setting(
        True,
        "OTEL_ML_LOGITS_SOFTMAX",
        _values.parse_bool,
        "Read logits (PyTorch, transformers) through softmax (sigmoid for one column) as class "
        "and confidence; `false`: the class (arg max) only.",
    )
    read_device_outputs: bool = _setting(
        False,
        "OTEL_ML_READ_DEVICE_OUTPUTS",
        _values.parse_bool,
        "Copy outputs that live on an accelerator (a CUDA tensor) to the host to read class and "
        "confidence, which waits for the device on every call; off, such calls record duration "
        "and batch size only.",
    )
    reference_profile: str | None = _setting(
        None,
        "OTEL_ML_REFERENCE_PROFILE",
        _values.parse_optional_str,
        "Path of a reference profile JSON (`otel-ml profile`); turns drift monitoring on.",
    )
    drift_window_rows: int = _setting(
        1000,
        "OTEL_ML_DRIFT_WINDOW_ROWS",
        _values.parse_positive_int,
        "Rows after which a drift window closes.",
    )
    drift_window_seconds: float = _setting(
        60.0,
        "OTEL_ML_DRIFT_WINDOW_SECONDS",
        _values.parse_positive_float,
        "Age after which a drift window closes (once it holds the minimum count).",
    )
    drift_min_count: int = _setting(
        1,
        "OTEL_ML_DRIFT_MIN_COUNT",
        _values.parse_positive_int,
        "Valid values a feature needs in a window before it is judged, on top of the smallest "
        "useful window of its test (`otel-ml profile` prints it); at most the window rows.",
    )
    drift_buffer_rows: int = _setting(
        256,
        "OTEL_ML_DRIFT_BUFFER_ROWS",
        _values.parse_positive_int,
        "Rows buffered on the request path before they are binned in one numpy pass.",
    )
    drift_false_alarm_rate: float = _setting(
        0.01,
        "OTEL_ML_DRIFT_FALSE_ALARM_RATE",
        _values.parse_positive_float,
        "Share of unshifted feature-windows allowed to be judged `drift` (below 1).",
    )
    drift_warn_rate: float = _setting(
        0.05,
        "OTEL_ML_DRIFT_WARN_RATE",
        _values.parse_positive_float,
        "Share of unshifted feature-windows allowed to be judged `warn` or worse (below 1).",
    )
    drift_min_effect: float = _setting(
        0.05,
        "OTEL_ML_DRIFT_MIN_EFFECT",
        _values.parse_positive_float,
        "Smallest shift judged `warn` or `drift`: KS distance (numeric), share of values moved "
        "(categorical), change of the missing share.",
    )
    feedback_enabled: bool = _setting(
        False,
        "OTEL_ML_FEEDBACK_ENABLED",
        _values.parse_bool,
        "Keep recent predictions so `record_feedback` can join labels (the route turns it on).",
    )
    feedback_max_predictions: int = _setting(
        100_000,
        "OTEL_ML_FEEDBACK_MAX_PREDICTIONS",
        _values.parse_positive_int,
        "Predictions kept for labels; the oldest leave first, 1/16 of them at a time.",
    )
    feedback_ttl_seconds: float = _setting(
        7 * 86400.0,
        "OTEL_ML_FEEDBACK_TTL_SECONDS",
        _values.parse_positive_float,
        "Age after which a prediction can no longer be labelled (`expired`).",
    )
    feedback_store: str = _setting(
        "memory",
        "OTEL_ML_FEEDBACK_STORE",
        _values.parse_store_url,
        "Where predictions wait for labels: `memory` (this process), `sqlite:///path.db` (all "
        "workers of one host) or `redis://host:6379/0`, `rediss://` (replicas; AUTH/TLS in URL).",
    )
    feedback_grace_seconds: float = _setting(
        1.0,
        "OTEL_ML_FEEDBACK_GRACE_SECONDS",
        _values.parse_positive_float,
        "How long a label waits for its prediction to reach a shared store before it is `unknown`.",
    )
    feedback_window: int = _setting(
        1000,
        "OTEL_ML_FEEDBACK_WINDOW",
        _values.parse_positive_int,
        "Labels behind the sliding-window accuracy, precision, recall and MAE gauges.",
    )
    feedback_segments: tuple[str, ...] = _setting(
        (),
        "OTEL_ML_FEEDBACK_SEGMENTS",
        _values.parse_names,
        "Segment names (`set_segments`) that label metrics carry as `ml.segment.<name>`.",
    )
    max_segment_values: int = _setting(
        20,
        "OTEL_ML_MAX_SEGMENT_VALUES",
        _values.parse_positive_int,
        "Distinct values per segment on metrics; further values become `__other__`.",
    )
    feedback_token: str | None = _setting(
        None, "OTEL_ML_FEEDBACK_TOKEN", _values.parse_optional_str,
        "Bearer token the feedback route requires (unset: anyone can label; logged at start-up).",
    )  # fmt: skip
    drift_page_token: str | None = _setting(
        None, "OTEL_ML_DRIFT_PAGE_TOKEN", _values.parse_optional_str,
        "Bearer token the drift page requires; unset: `OTEL_ML_FEEDBACK_TOKEN`'s, else none.",
    )  # fmt: skip
    shutdown_timeout: float = _setting(
        5.0, "OTEL_ML_SHUTDOWN_TIMEOUT", _values.parse_positive_float,
        "Seconds the flush at shutdown may take in all; what is left is dropped and counted.",
    )  # fmt: skip
    feedback_max_items: int = _setting(
        1000,
        "OTEL_ML_FEEDBACK_MAX_ITEMS",
        _values.parse_positive_int,
        "Labels accepted in one feedback request.",
    )
    feedback_max_body_bytes: int = _setting(
        1_048_576,
        "OTEL_ML_FEEDBACK_MAX_BODY_BYTES",
        _values.parse_positive_int,
        "Largest feedback request body, in bytes.",
    )
    process_metrics: bool = _setting(
        True,
        "OTEL_ML_PROCESS_METRICS",
        _values.parse_bool,
        "Export process metrics (CPU, memory, threads, file descriptors, GC, cgroup memory limit).",
    )
    gpu_metrics: bool = _setting(
        True,
        "OTEL_ML_GPU_METRICS",
        _values.parse_bool,
        "Export NVIDIA GPU metrics (`hw.gpu.*`) when nvidia-ml-py and a GPU are present.",
    )
    genai_time_per_chunk: bool = _setting(
        True,
        "OTEL_ML_GENAI_TIME_PER_CHUNK",
        _values.parse_bool,
        "Record `gen_ai.client.operation.time_per_output_chunk`, one value per streamed chunk "
        "after the first: most of a stream's telemetry CPU (off: TTFT, duration, tokens stay).",
    )
    capture_content: bool = _setting(
        False,
        "OTEL_ML_CAPTURE_CONTENT",
        _values.parse_capture,
        "Capture prompts, completions, system instructions, tool definitions and document ids "
        "on GenAI spans (off by default): a boolean, or util-genai's `span_only`, "
        "`span_and_event` (on), `event_only`, `no_content` (off: otel_ml emits no GenAI events).",
        fallback_env=("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",),
    )
    http_excluded_urls: str = _setting(
        "",
        "OTEL_ML_HTTP_EXCLUDED_URLS",
        str,
        "Comma separated URL regexes `instrument(app)`'s HTTP layer does not trace "
        "(`excluded_urls=` wins); the contrib variables in their order otherwise.",
        fallback_env=("OTEL_PYTHON_FASTAPI_EXCLUDED_URLS", "OTEL_PYTHON_EXCLUDED_URLS"),
    )
    genai_prices: str | None = _setting(None, "OTEL_ML_GENAI_PRICES", _values.parse_optional_str,
        "JSON price file extending and overriding the shipped LLM prices; `off`: no cost.",
    )  # fmt: skip
    genai_tenant: str | None = _setting(None, "OTEL_ML_GENAI_TENANT", _values.parse_tenant_source,
        "Tenant label of LLM metrics: `header:<name>` or `baggage:<key>` (unset: off).",
    )  # fmt: skip
    genai_max_tenants: int = _setting(20, "OTEL_ML_GENAI_MAX_TENANTS", _values.parse_positive_int,
        "Distinct tenants on LLM metrics; further tenants become `__other__`.")  # fmt: skip

    @classmethod
    def load(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        errors: list[SettingsError] | None = None,
        **overrides: Any,
    ) -> Settings:
        """Resolve every setting: ``overrides`` > ``OTEL_ML_*`` > ``OTEL_*`` > default.

        Raises :class:`SettingsError` naming the ``OTEL_ML_*`` variable or
        argument at fault; given an ``errors`` list, such a variable is appended
        there instead and its setting keeps the default (hooks that must not
        stay off). A standard ``OTEL_*`` variable it cannot use is logged once,
        naming it, and the default kept, as the OpenTelemetry specification asks.
        """
        env = os.environ if environ is None else environ
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = set(overrides) - set(fields)
        if unknown:
            raise SettingsError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for name, f in fields.items():
            if name in overrides and overrides[name] is not None:
                values[name] = _check_override(f, overrides[name])
                continue
            for var in (f.metadata["env"], *f.metadata["fallback_env"]):
                if var and var in env:
                    try:
                        values[name] = _parse_env(f, var, env[var])
                    except SettingsError as exc:
                        if var != f.metadata["env"]:
                            _standard_invalid(exc, var, env[var])
                        elif errors is None:
                            raise
                        else:
                            errors.append(exc)
                    break
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied and validated like keyword arguments."""
        fields = {f.name: f for f in dataclasses.fields(self)}
        checked = {k: _check_override(fields[k], v) for k, v in changes.items() if v is not None}
        return dataclasses.replace(self, **checked)


def _standard_invalid(exc: SettingsError, var: str, raw: str) -> None:
    """A standard ``OTEL_*`` variable otel_ml cannot use: logged once, default kept
    (the OpenTelemetry specification); ``OTEL_ML_*`` variables raise instead."""
    if (var, raw) not in _warned:
        _warned.add((var, raw))
        _logger.error("otel_ml: %s; using the default", exc)


def _parse_env(f: dataclasses.Field[Any], var: str, raw: str) -> Any:
    try:
        return f.metadata["parse"](raw)
    except ValueError as exc:
        raise SettingsError(f"{var}={_without_password(raw)!r}: {exc}") from None


def _check_override(f: dataclasses.Field[Any], value: Any) -> Any:
    """Validate a keyword argument with the same rules as its variable."""
    if isinstance(f.default, bool):
        if not isinstance(value, bool):
            raise SettingsError(f"{f.name}={value!r}: expected True or False")
        return value
    if isinstance(f.default, int):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SettingsError(f"{f.name}={value!r}: expected an int >= 1")
        return value
    if f.metadata["parse"] is _values.parse_rate:
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise SettingsError(f"{f.name}={value!r}: expected a share between 0 and 1")
        return float(value)
    if isinstance(f.default, float):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1e300:
            raise SettingsError(f"{f.name}={value!r}: expected a finite number > 0")
        return float(value)
    if isinstance(f.default, tuple):
        if isinstance(value, str) or not all(isinstance(v, str) for v in value):
            raise SettingsError(f"{f.name}={value!r}: expected a sequence of names")
        return tuple(value)
    if not isinstance(value, str):
        raise SettingsError(f"{f.name}={value!r}: expected a string")
    try:
        return f.metadata["parse"](value)
    except ValueError as exc:
        raise SettingsError(f"{f.name}={_without_password(value)!r}: {exc}") from None


def _without_password(raw: str) -> str:
    """``raw`` with the password of a URL (``redis://:secret@host``) masked, for messages."""
    return re.sub(r"(://[^/@\s]*?:)[^/@\s]*@", r"\1***@", raw)


def settings_table() -> list[tuple[str, str, str]]:
    """``(variable, default, description)`` for every setting, for the docs."""
    rows = []
    for f in dataclasses.fields(Settings):
        env = f.metadata["env"]
        if f.metadata["fallback_env"]:
            env = f"{env} (or {', then '.join(f.metadata['fallback_env'])})"
        rows.append((env, repr(f.default), f.metadata["doc"]))
    return rows


_loaded: Settings | None = None


def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    global _loaded
    if _loaded is None:
        _loaded = Settings.load()
    return _loaded
