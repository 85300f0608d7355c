"""Settings: one frozen object, each setting declared once with its variable.

Precedence: keyword arguments > ``OTEL_ML_*`` variables > standard ``OTEL_*``
variables (where a setting has one) > defaults. The environment is passed in
(``Settings.load(environ=...)``) so tests never touch ``os.environ``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Settings", "SettingsError", "get_settings", "settings_table"]


class SettingsError(ValueError):
    """A setting has a value otel_ml cannot use; the message names its source."""


HTTP_LAYERS = ("otel_ml", "contrib")
"""The HTTP server layers ``instrument(app)`` can apply (``OTEL_ML_HTTP_INSTRUMENTATION``)."""
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError("expected one of 1/0, true/false, yes/no, on/off")


def _parse_positive_int(raw: str) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise ValueError("expected a whole number") from None
    if value < 1:
        raise ValueError("expected a number >= 1")
    return value


def _parse_positive_float(raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ValueError("expected a number") from None
    if not value > 0 or value == float("inf"):
        raise ValueError("expected a finite number > 0")
    return value


def _parse_str(raw: str) -> str:
    value = raw.strip()
    if not value:
        raise ValueError("expected a non-empty string")
    return value


def _parse_optional_str(raw: str) -> str | None:
    return raw.strip() or None


def _parse_names(raw: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in raw.split(",") if n.strip())
    if not all(n.replace("_", "").replace("-", "").isalnum() for n in names):
        raise ValueError("expected comma separated names (letters, digits, '-', '_')")
    return names


def _parse_header_name(raw: str) -> str:
    value = raw.strip().lower()
    if not value or not all(c.isalnum() or c in "-_" for c in value):
        raise ValueError("expected an HTTP header name (letters, digits, '-', '_')")
    return value


def _parse_http_layer(raw: str) -> str:
    value = raw.strip().lower()
    if value not in HTTP_LAYERS:
        raise ValueError(f"expected one of {', '.join(HTTP_LAYERS)}")
    return value


def _setting(
    default: Any,
    env: str,
    parse: Callable[[str], Any],
    doc: str,
    fallback_env: tuple[str, ...] = (),
) -> Any:
    return field(
        default=default,
        metadata={"env": env, "parse": parse, "doc": doc, "fallback_env": fallback_env},
    )


@dataclass(frozen=True)
class Settings:
    """Everything otel_ml can be configured with. Build it with :meth:`load`."""

    model_name: str | None = _setting(
        None,
        "OTEL_ML_MODEL_NAME",
        _parse_optional_str,
        "Model name for auto-instrumented calls; default: the model's class name (a "
        "transformers model or pipeline: its `name_or_path`, else the pipeline's task).",
    )
    model_version: str = _setting(
        "unknown", "OTEL_ML_MODEL_VERSION", _parse_str, "Model version for auto-instrumented calls."
    )
    strict: bool = _setting(
        False,
        "OTEL_ML_STRICT",
        _parse_bool,
        "Re-raise failures inside otel_ml's telemetry code instead of swallowing them (tests).",
    )
    max_class_labels: int = _setting(
        50,
        "OTEL_ML_MAX_CLASS_LABELS",
        _parse_positive_int,
        "Distinct class labels per model on metrics; further labels become `__other__`.",
    )
    max_rows_recorded: int = _setting(
        1024,
        "OTEL_ML_MAX_ROWS_RECORDED",
        _parse_positive_int,
        "Rows of one batch call recorded into the confidence histogram (evenly sampled above).",
    )
    prediction_id_header: str = _setting(
        "x-prediction-id",
        "OTEL_ML_PREDICTION_ID_HEADER",
        _parse_header_name,
        "Response header that carries the request's prediction id.",
    )
    http_asgi_spans: bool = _setting(
        False,
        "OTEL_ML_HTTP_ASGI_SPANS",
        _parse_bool,
        "Keep the ASGI `receive`/`send` child spans of the FastAPI instrumentation.",
    )
    http_instrumentation: str = _setting(
        "otel_ml",
        "OTEL_ML_HTTP_INSTRUMENTATION",
        _parse_http_layer,
        "HTTP server layer of `instrument(app)`: `otel_ml` (one lean middleware) or `contrib` "
        "(the contrib FastAPI instrumentation; needed for `OTEL_ML_HTTP_ASGI_SPANS`).",
    )
    instrument_sklearn: bool = _setting(
        True,
        "OTEL_ML_INSTRUMENT_SKLEARN",
        _parse_bool,
        "`instrument(app)` also patches scikit-learn estimators when scikit-learn is installed.",
    )
    logits_softmax: bool = _setting(
        True,
        "OTEL_ML_LOGITS_SOFTMAX",
        _parse_bool,
        "Read logits (PyTorch, transformers) through softmax (sigmoid for one column) as class "
        "and confidence; `false`: the class (arg max) only.",
    )
    read_device_outputs: bool = _setting(
        False,
        "OTEL_ML_READ_DEVICE_OUTPUTS",
        _parse_bool,
        "Copy outputs that live on an accelerator (a CUDA tensor) to the host to read class and "
        "confidence, which waits for the device on every call; off, such calls record duration "
        "and batch size only.",
    )
    reference_profile: str | None = _setting(
        None,
        "OTEL_ML_REFERENCE_PROFILE",
        _parse_optional_str,
        "Path of a reference profile JSON (`otel-ml profile`); turns drift monitoring on.",
    )
    drift_window_rows: int = _setting(
        1000,
        "OTEL_ML_DRIFT_WINDOW_ROWS",
        _parse_positive_int,
        "Rows after which a drift window closes.",
    )
    drift_window_seconds: float = _setting(
        60.0,
        "OTEL_ML_DRIFT_WINDOW_SECONDS",
        _parse_positive_float,
        "Age after which a drift window closes (once it holds the minimum count).",
    )
    drift_min_count: int = _setting(
        1,
        "OTEL_ML_DRIFT_MIN_COUNT",
        _parse_positive_int,
        "Valid values a feature needs in a window before it is judged, on top of the smallest "
        "useful window of its test (`otel-ml profile` prints it); at most the window rows.",
    )
    drift_buffer_rows: int = _setting(
        256,
        "OTEL_ML_DRIFT_BUFFER_ROWS",
        _parse_positive_int,
        "Rows buffered on the request path before they are binned in one numpy pass.",
    )
    drift_false_alarm_rate: float = _setting(
        0.01,
        "OTEL_ML_DRIFT_FALSE_ALARM_RATE",
        _parse_positive_float,
        "Share of unshifted feature-windows allowed to be judged `drift` (below 1).",
    )
    drift_warn_rate: float = _setting(
        0.05,
        "OTEL_ML_DRIFT_WARN_RATE",
        _parse_positive_float,
        "Share of unshifted feature-windows allowed to be judged `warn` or worse (below 1).",
    )
    drift_min_effect: float = _setting(
        0.05,
        "OTEL_ML_DRIFT_MIN_EFFECT",
        _parse_positive_float,
        "Smallest shift judged `warn` or `drift`: KS distance (numeric), share of values moved "
        "(categorical), change of the missing share.",
    )
    feedback_enabled: bool = _setting(
        False,
        "OTEL_ML_FEEDBACK_ENABLED",
        _parse_bool,
        "Keep recent predictions so `record_feedback` can join labels (the route turns it on).",
    )
    feedback_max_predictions: int = _setting(
        100_000,
        "OTEL_ML_FEEDBACK_MAX_PREDICTIONS",
        _parse_positive_int,
        "Predictions kept for labels; the oldest leave first, 1/16 of them at a time.",
    )
    feedback_ttl_seconds: float = _setting(
        7 * 86400.0,
        "OTEL_ML_FEEDBACK_TTL_SECONDS",
        _parse_positive_float,
        "Age after which a prediction can no longer be labelled (`expired`).",
    )
    feedback_window: int = _setting(
        1000,
        "OTEL_ML_FEEDBACK_WINDOW",
        _parse_positive_int,
        "Labels behind the sliding-window accuracy, precision, recall and MAE gauges.",
    )
    feedback_segments: tuple[str, ...] = _setting(
        (),
        "OTEL_ML_FEEDBACK_SEGMENTS",
        _parse_names,
        "Segment names (`set_segments`) that label metrics carry as `ml.segment.<name>`.",
    )
    max_segment_values: int = _setting(
        20,
        "OTEL_ML_MAX_SEGMENT_VALUES",
        _parse_positive_int,
        "Distinct values per segment on metrics; further values become `__other__`.",
    )
    feedback_token: str | None = _setting(
        None,
        "OTEL_ML_FEEDBACK_TOKEN",
        _parse_optional_str,
        "Bearer token the feedback route requires (unset: no token).",
    )
    feedback_max_items: int = _setting(
        1000,
        "OTEL_ML_FEEDBACK_MAX_ITEMS",
        _parse_positive_int,
        "Labels accepted in one feedback request.",
    )
    feedback_max_body_bytes: int = _setting(
        1_048_576,
        "OTEL_ML_FEEDBACK_MAX_BODY_BYTES",
        _parse_positive_int,
        "Largest feedback request body, in bytes.",
    )
    process_metrics: bool = _setting(
        True,
        "OTEL_ML_PROCESS_METRICS",
        _parse_bool,
        "Export process metrics (CPU, memory, threads, file descriptors, GC, cgroup memory limit).",
    )
    gpu_metrics: bool = _setting(
        True,
        "OTEL_ML_GPU_METRICS",
        _parse_bool,
        "Export NVIDIA GPU metrics (`hw.gpu.*`) when nvidia-ml-py and a GPU are present.",
    )
    genai_time_per_chunk: bool = _setting(
        True,
        "OTEL_ML_GENAI_TIME_PER_CHUNK",
        _parse_bool,
        "Record `gen_ai.client.operation.time_per_output_chunk`, one value per streamed chunk "
        "after the first: most of a stream's telemetry CPU (off: TTFT, duration, tokens stay).",
    )
    capture_content: bool = _setting(
        False,
        "OTEL_ML_CAPTURE_CONTENT",
        _parse_bool,
        "Capture prompts, completions and document text on GenAI spans (off by default).",
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

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Resolve every setting: ``overrides`` > ``OTEL_ML_*`` > ``OTEL_*`` > default.

        Raises :class:`SettingsError` naming the variable or argument at fault.
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
                    values[name] = _parse_env(f, var, env[var])
                    break
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied and validated like keyword arguments."""
        fields = {f.name: f for f in dataclasses.fields(self)}
        checked = {k: _check_override(fields[k], v) for k, v in changes.items() if v is not None}
        return dataclasses.replace(self, **checked)


def _parse_env(f: dataclasses.Field[Any], var: str, raw: str) -> Any:
    try:
        return f.metadata["parse"](raw)
    except ValueError as exc:
        raise SettingsError(f"{var}={raw!r}: {exc}") from None


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
        raise SettingsError(f"{f.name}={value!r}: {exc}") from None


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
