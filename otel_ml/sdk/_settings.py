"""Resolve what ``configure()`` builds from arguments and ``OTEL_*`` variables.

Pure: reads only the mapping it is given, returns a frozen, comparable value.
Precedence everywhere: keyword argument > per-signal variable > generic
variable > default. An argument otel_ml cannot use raises
:class:`~otel_ml.config.SettingsError` naming it; a standard variable with an
invalid value is warned about (naming it and the value, once) and the
default is used, as the OpenTelemetry specification asks.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Literal
from urllib.parse import unquote, urlparse

from opentelemetry.semconv.attributes.service_attributes import SERVICE_NAME, SERVICE_VERSION
from opentelemetry.util.re import parse_env_headers

from otel_ml import semconv
from otel_ml.config import SettingsError

_logger = logging.getLogger("otel_ml")
_warned: set[tuple[str, str]] = set()

__all__ = ["Protocol", "SamplerSettings", "SdkSettings", "SignalSettings", "resolve_settings"]

Protocol = Literal["grpc", "http/protobuf"]
Signal = Literal["traces", "metrics"]

_PROTOCOLS: tuple[Protocol, ...] = ("grpc", "http/protobuf")
_DEFAULT_ENDPOINTS: dict[Protocol, str] = {
    "grpc": "http://localhost:4317",
    "http/protobuf": "http://localhost:4318",
}
_DEFAULT_EXPORT_INTERVAL_MS = 60_000
_DEFAULT_SAMPLER = "parentbased_always_on"
_RATIO_SAMPLERS = frozenset({"traceidratio", "parentbased_traceidratio"})
_BUILTIN_SAMPLERS = _RATIO_SAMPLERS | {
    "always_on",
    "always_off",
    "parentbased_always_on",
    "parentbased_always_off",
}
# The SDK's own group: custom samplers installed as plugins stay usable.
SAMPLER_ENTRY_POINT_GROUP = "opentelemetry_traces_sampler"
# The groups the SDK's own configurator reads exporters from (``console`` is
# registered by opentelemetry-sdk itself).
EXPORTER_ENTRY_POINT_GROUPS = {
    "traces": "opentelemetry_traces_exporter",
    "metrics": "opentelemetry_metrics_exporter",
}


@dataclass(frozen=True)
class SignalSettings:
    """Where and how one signal (traces or metrics) is exported."""

    protocol: Protocol
    endpoint: str
    """The exporter's URL as it will be called (signal path already applied for HTTP)."""
    headers: tuple[tuple[str, str], ...]
    insecure: bool
    """gRPC only: plain-text channel."""
    exporters: tuple[str, ...] = ("otlp",)
    """``OTEL_{TRACES,METRICS}_EXPORTER``: ``otlp`` (built from the fields above)
    and names of exporters installed under the SDK's entry-point group."""


@dataclass(frozen=True)
class SamplerSettings:
    """``OTEL_TRACES_SAMPLER`` and its argument, validated."""

    name: str = _DEFAULT_SAMPLER
    ratio: float | None = None
    """For the ``*traceidratio`` samplers."""
    arg: str | None = None
    """For samplers loaded from entry points: the raw argument."""


@dataclass(frozen=True)
class SdkSettings:
    """Everything :func:`~otel_ml.sdk.build_providers` needs; ``None`` disables a signal."""

    resource_attributes: tuple[tuple[str, str], ...]
    traces: SignalSettings | None
    metrics: SignalSettings | None
    sampler: SamplerSettings
    export_interval_ms: int


def resolve_settings(
    *,
    service_name: str | None = None,
    service_version: str | None = None,
    endpoint: str | None = None,
    protocol: str | None = None,
    headers: Mapping[str, str] | None = None,
    model_name: str | None = None,
    model_version: str | None = None,
    resource_attributes: Mapping[str, str] | None = None,
    export_interval_ms: int | None = None,
    traces: bool = True,
    metrics: bool = True,
    environ: Mapping[str, str] | None = None,
) -> SdkSettings:
    """Resolve arguments and ``environ`` (default ``os.environ``) into :class:`SdkSettings`.

    The :mod:`otel_ml.sdk` page lists the meaning and precedence of each argument.
    """
    env = os.environ if environ is None else environ
    named = {
        SERVICE_NAME: _check_str("service_name", service_name),
        SERVICE_VERSION: _check_str("service_version", service_version),
        semconv.ML_MODEL_NAME: _check_str("model_name", model_name),
        semconv.ML_MODEL_VERSION: _check_str("model_version", model_version),
    }
    explicit = {**_check_mapping("resource_attributes", resource_attributes)}
    explicit.update({k: v for k, v in named.items() if v is not None})
    _check_str("endpoint", endpoint)
    enabled = env.get("OTEL_SDK_DISABLED", "").strip().lower() != "true"
    trace_exporters = _exporters(env, "traces") if traces and enabled else ()
    metric_exporters = _exporters(env, "metrics") if metrics and enabled else ()
    return SdkSettings(
        resource_attributes=tuple(sorted(_resource_attributes(env, explicit).items())),
        traces=_signal("traces", env, endpoint, protocol, headers, trace_exporters),
        metrics=_signal("metrics", env, endpoint, protocol, headers, metric_exporters),
        sampler=_sampler(env),
        export_interval_ms=_export_interval(env, export_interval_ms),
    )


def _resource_attributes(env: Mapping[str, str], explicit: Mapping[str, str]) -> dict[str, str]:
    """``OTEL_RESOURCE_ATTRIBUTES`` < ``OTEL_SERVICE_NAME`` < arguments."""
    attributes: dict[str, str] = {}
    for item in env.get("OTEL_RESOURCE_ATTRIBUTES", "").split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            _invalid("OTEL_RESOURCE_ATTRIBUTES", item.strip(), "not a key=value pair; skipped")
            continue
        attributes[key.strip()] = unquote(value.strip())
    if env.get("OTEL_SERVICE_NAME", "").strip():
        attributes[SERVICE_NAME] = env["OTEL_SERVICE_NAME"].strip()
    attributes.update(explicit)
    return attributes


def _signal(
    signal: Signal,
    env: Mapping[str, str],
    endpoint: str | None,
    protocol: str | None,
    headers: Mapping[str, str] | None,
    exporters: tuple[str, ...],
) -> SignalSettings | None:
    if not exporters:
        return None
    upper = signal.upper()
    chosen = _protocol(env, protocol, upper)
    url = _endpoint(env, endpoint, chosen, signal)
    return SignalSettings(
        protocol=chosen,
        endpoint=url,
        headers=_headers(env, headers, upper),
        insecure=_insecure(env, url, upper),
        exporters=exporters,
    )


_OWN = {"otel_ml": "otlp"}


def _exporters(env: Mapping[str, str], signal: Signal) -> tuple[str, ...]:
    """``OTEL_{TRACES,METRICS}_EXPORTER``: a comma-separated list; unset means
    ``otlp``, ``none`` alone exports nothing, an unknown name is warned about."""
    variable = f"OTEL_{signal.upper()}_EXPORTER"
    raw = env.get(variable, "").strip()
    names = [part.strip().lower() for part in raw.split(",") if part.strip()]
    if not names:
        return ("otlp",)
    group = EXPORTER_ENTRY_POINT_GROUPS[signal]
    installed = {entry.name for entry in entry_points(group=group)}
    known = [name for name in names if name in installed or name in ("otlp", "none")]
    for name in names:
        if name not in known:
            _invalid(variable, name, f"no exporter of that name is installed under the "
                     f"{group!r} entry-point group; left out")  # fmt: skip
    # ``otel_ml`` (the launcher's reader of otel_ml's cells) is what configure()
    # builds for ``otlp`` anyway.
    chosen = tuple(dict.fromkeys(_OWN.get(name, name) for name in known if name != "none"))
    if not known:
        return ("otlp",)
    return chosen


def _first(env: Mapping[str, str], *names: str) -> tuple[str, str] | None:
    """The first variable of ``names`` set to a non-blank value, with its name."""
    for name in names:
        value = env.get(name, "").strip()
        if value:
            return name, value
    return None


def _protocol(env: Mapping[str, str], protocol: str | None, upper: str) -> Protocol:
    if protocol is not None:
        source, value = "protocol", protocol
    else:
        found = _first(env, f"OTEL_EXPORTER_OTLP_{upper}_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
        source, value = found or ("default", "grpc")
    for known in _PROTOCOLS:
        if value.strip().lower() == known:
            return known
    expected = f"expected one of {', '.join(_PROTOCOLS)}"
    if protocol is not None:
        raise SettingsError(f"{source}={value!r}: {expected}")
    _invalid(source, value, f"{expected}; using grpc")
    return "grpc"


def _endpoint(env: Mapping[str, str], endpoint: str | None, protocol: Protocol, signal: str) -> str:
    """The URL the exporter calls.

    The per-signal variable is used as given; the argument, the generic
    variable and the default are base URLs, to which OTLP/HTTP appends
    ``/v1/traces`` or ``/v1/metrics`` (as the OTLP exporter specification says).
    """
    if endpoint is None:
        per_signal = _first(env, f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT")
        if per_signal is not None:
            return per_signal[1]
        generic = _first(env, "OTEL_EXPORTER_OTLP_ENDPOINT")
        endpoint = generic[1] if generic else _DEFAULT_ENDPOINTS[protocol]
    if protocol == "http/protobuf":
        return f"{endpoint.strip().rstrip('/')}/v1/{signal}"
    return endpoint.strip()


def _headers(
    env: Mapping[str, str], headers: Mapping[str, str] | None, upper: str
) -> tuple[tuple[str, str], ...]:
    if headers is not None:
        checked = _check_mapping("headers", headers)
        # gRPC metadata keys must be lower case; HTTP header names are case-insensitive.
        return tuple(sorted((k.lower(), v) for k, v in checked.items()))
    found = _first(env, f"OTEL_EXPORTER_OTLP_{upper}_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS")
    if found is None:
        return ()
    return tuple(sorted(parse_env_headers(found[1], liberal=True).items()))


def _insecure(env: Mapping[str, str], url: str, upper: str) -> bool:
    """gRPC plain text: the ``*_INSECURE`` variable, else an ``http://`` endpoint."""
    if urlparse(url).scheme == "https":
        return False
    found = _first(env, f"OTEL_EXPORTER_OTLP_{upper}_INSECURE", "OTEL_EXPORTER_OTLP_INSECURE")
    if found is not None:
        return found[1].lower() == "true"
    return urlparse(url).scheme == "http"


def _sampler(env: Mapping[str, str]) -> SamplerSettings:
    found = _first(env, "OTEL_TRACES_SAMPLER")
    name = found[1].lower() if found else _DEFAULT_SAMPLER
    arg = _first(env, "OTEL_TRACES_SAMPLER_ARG")
    if name in _RATIO_SAMPLERS:
        return SamplerSettings(name, ratio=_ratio(arg[1]) if arg else 1.0)
    if name in _BUILTIN_SAMPLERS:
        return SamplerSettings(name)
    if not entry_points(group=SAMPLER_ENTRY_POINT_GROUP, name=name):
        known = ", ".join(sorted(_BUILTIN_SAMPLERS))
        _invalid("OTEL_TRACES_SAMPLER", name,
                 f"expected one of {known} or a sampler installed under the "
                 f"{SAMPLER_ENTRY_POINT_GROUP!r} group; using {_DEFAULT_SAMPLER}")  # fmt: skip
        return SamplerSettings(_DEFAULT_SAMPLER)
    return SamplerSettings(name, arg=arg[1] if arg else "")


def _ratio(raw: str) -> float:
    try:
        ratio = float(raw)
    except ValueError:
        ratio = -1.0
    if not 0.0 <= ratio <= 1.0:
        _invalid("OTEL_TRACES_SAMPLER_ARG", raw, "expected a number in [0, 1]; using 1.0")
        return 1.0
    return ratio


def _export_interval(env: Mapping[str, str], export_interval_ms: int | None) -> int:
    if export_interval_ms is not None:
        source = f"export_interval_ms={export_interval_ms!r}"
        if isinstance(export_interval_ms, bool) or not isinstance(export_interval_ms, int):
            raise SettingsError(f"{source}: expected an int")
        if export_interval_ms < 1:
            raise SettingsError(f"{source}: expected a number of milliseconds >= 1")
        return export_interval_ms
    found = _first(env, "OTEL_METRIC_EXPORT_INTERVAL")
    if found is None:
        return _DEFAULT_EXPORT_INTERVAL_MS
    if found[1].isdigit() and int(found[1]) >= 1:
        return int(found[1])
    _invalid(*found, f"expected a whole number of milliseconds >= 1; using "
             f"{_DEFAULT_EXPORT_INTERVAL_MS}")  # fmt: skip
    return _DEFAULT_EXPORT_INTERVAL_MS


def _check_str(name: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise SettingsError(f"{name}={value!r}: expected a non-empty string")
    return value.strip()


def _check_mapping(name: str, value: Mapping[str, str] | None) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise SettingsError(f"{name}={value!r}: expected a mapping of str to str")
    return dict(value)


def _invalid(variable: str, value: str, what: str) -> None:
    """A standard ``OTEL_*`` variable with a value it cannot have: as the
    OpenTelemetry specification asks, warn (once per variable and value) and
    go on with the default, rather than stop the application."""
    if (variable, value) in _warned:
        return
    _warned.add((variable, value))
    _logger.warning("otel_ml: %s=%r is invalid: %s", variable, value, what)
