"""configure(): settings resolution, real OTLP export to loopback receivers, globals.

Providers are built with the pure builder and an injected environment; the
global installation runs in subprocesses because OpenTelemetry allows setting
the global providers only once per process.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)
from otlp_receiver import GrpcReceiver, HttpReceiver, Receiver

import otel_ml
from otel_ml.config import SettingsError
from otel_ml.sdk import (
    SamplerSettings,
    SdkSettings,
    SignalSettings,
    TelemetryHandle,
    build_providers,
    build_resource,
    build_sampler,
    resolve_settings,
)
from otel_ml.sdk._export_watch import accepts_connections

SDK_ATTRIBUTES = {
    k: v for k, v in (Resource.create().attributes or {}).items() if k.startswith("telemetry.sdk.")
}
# Names the model-server tests give their service and model.
SERVICE = {"service.name": "fraud-api", "service.version": "1.4.0"}
MODEL = {"ml.model.name": "fraud-model", "ml.model.version": "3"}


@pytest.fixture
def http_receiver() -> Iterator[HttpReceiver]:
    with HttpReceiver() as receiver:
        yield receiver


@pytest.fixture
def grpc_receiver() -> Iterator[GrpcReceiver]:
    with GrpcReceiver() as receiver:
        yield receiver


@pytest.fixture(params=["grpc", "http/protobuf"])
def receiver(request: pytest.FixtureRequest) -> Iterator[Receiver]:
    kind = GrpcReceiver if request.param == "grpc" else HttpReceiver
    with kind() as started:
        yield started


@contextmanager
def built(environ: Mapping[str, str], **kwargs: Any) -> Iterator[TelemetryHandle]:
    handle = build_providers(resolve_settings(environ=environ, **kwargs))
    try:
        yield handle
    finally:
        handle.shutdown()


def serve_one_prediction(handle: TelemetryHandle) -> None:
    """A span with a duration point recorded inside it, then a flush."""
    tracer = handle.tracer_provider.get_tracer("tests")
    duration = handle.meter_provider.get_meter("tests").create_histogram("ml.inference.duration")
    with tracer.start_as_current_span("predict fraud-model"):
        duration.record(0.25, {"ml.model.name": "fraud-model"})
    assert handle.force_flush(10_000)


def protocol_of(receiver: Receiver) -> str:
    return "grpc" if isinstance(receiver, GrpcReceiver) else "http/protobuf"


# --- real export --------------------------------------------------------------


def test_span_and_histogram_reach_the_receiver_with_resource_and_headers(
    receiver: Receiver,
) -> None:
    environ = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol_of(receiver),
        "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20t0k,x-tenant=ml",
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=test",
    }
    with built(environ, service_name="fraud-api", service_version="1.4.0", **_model()) as handle:
        serve_one_prediction(handle)

        [(resource, span)] = receiver.spans()
        instance_id = resource["service.instance.id"]
        assert uuid.UUID(instance_id).version == 4
        assert resource == {
            **SDK_ATTRIBUTES,
            **SERVICE,
            **MODEL,
            "service.instance.id": instance_id,
            "deployment.environment.name": "test",
        }
        assert span.name == "predict fraud-model"
        assert receiver.metric_names() == {"ml.inference.duration": resource}
        [point] = _histogram_points(receiver, "ml.inference.duration")
        assert (point.count, point.sum) == (1, 0.25)
        # Trace-based exemplar filter: the point links to the span it was recorded in.
        assert [(e.span_id, e.trace_id) for e in point.exemplars] == [(span.span_id, span.trace_id)]
        for request in receiver.traces + receiver.metrics:
            assert request.headers["authorization"] == "Bearer t0k"
            assert request.headers["x-tenant"] == "ml"
        if isinstance(receiver, HttpReceiver):
            assert [r.path for r in receiver.traces] == ["/v1/traces"]
            assert {r.path for r in receiver.metrics} == {"/v1/metrics"}


def test_arguments_win_over_environment(
    http_receiver: HttpReceiver, grpc_receiver: GrpcReceiver
) -> None:
    environ = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": grpc_receiver.endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_EXPORTER_OTLP_HEADERS": "x-source=env,x-env-only=1",
        "OTEL_SERVICE_NAME": "env-service",
        "OTEL_RESOURCE_ATTRIBUTES": "service.name=attr-service,service.version=0.9,team=ml",
    }
    with built(
        environ,
        endpoint=http_receiver.endpoint,
        protocol="http/protobuf",
        headers={"X-Source": "argument"},
        service_name="fraud-api",
    ) as handle:
        serve_one_prediction(handle)

    [(resource, _)] = http_receiver.spans()
    assert resource == {
        **SDK_ATTRIBUTES,
        "service.name": "fraud-api",
        "service.version": "0.9",
        "team": "ml",
        "service.instance.id": resource["service.instance.id"],
    }
    for request in http_receiver.traces + http_receiver.metrics:
        assert request.headers["x-source"] == "argument"
        assert "x-env-only" not in request.headers
    assert (grpc_receiver.traces, grpc_receiver.metrics) == ([], [])


def test_per_signal_variables_win_and_their_endpoint_is_used_as_given(
    http_receiver: HttpReceiver, grpc_receiver: GrpcReceiver
) -> None:
    with HttpReceiver() as generic:
        environ = {
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_EXPORTER_OTLP_ENDPOINT": generic.endpoint,
            "OTEL_EXPORTER_OTLP_HEADERS": "x-signal=generic",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{http_receiver.endpoint}/custom/traces",
            "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "grpc",
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": grpc_receiver.endpoint,
            "OTEL_EXPORTER_OTLP_METRICS_HEADERS": "x-signal=metrics",
        }
        with built(environ) as handle:
            serve_one_prediction(handle)
        assert (generic.traces, generic.metrics) == ([], [])

    assert [(r.path, r.headers["x-signal"]) for r in http_receiver.traces] == [
        ("/custom/traces", "generic")
    ]
    assert http_receiver.metrics == []
    assert {r.headers["x-signal"] for r in grpc_receiver.metrics} == {"metrics"}
    assert list(grpc_receiver.metric_names()) == ["ml.inference.duration"]


def test_always_off_sampler_exports_metrics_but_no_spans(receiver: Receiver) -> None:
    environ = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol_of(receiver),
        "OTEL_TRACES_SAMPLER": "always_off",
    }
    with built(environ) as handle:
        serve_one_prediction(handle)

        assert receiver.traces == []
        [point] = _histogram_points(receiver, "ml.inference.duration")
        assert (point.count, list(point.exemplars)) == (1, [])


@pytest.mark.parametrize(
    ("environ", "kwargs"),
    [
        ({"OTEL_METRIC_EXPORT_INTERVAL": "50"}, {}),
        ({"OTEL_METRIC_EXPORT_INTERVAL": "3600000"}, {"export_interval_ms": 50}),
    ],
)
def test_metrics_are_exported_on_the_configured_interval(
    http_receiver: HttpReceiver, environ: dict[str, str], kwargs: dict[str, Any]
) -> None:
    environ |= {"OTEL_EXPORTER_OTLP_ENDPOINT": http_receiver.endpoint}
    environ |= {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}
    with built(environ, traces=False, **kwargs) as handle:
        handle.meter_provider.get_meter("tests").create_counter("ml.predictions").add(1)
        deadline = time.monotonic() + 10
        while not http_receiver.metrics and time.monotonic() < deadline:
            time.sleep(0.02)
        # No flush was asked for: only the periodic reader can have sent this.
        assert list(http_receiver.metric_names()) == ["ml.predictions"]
    assert http_receiver.traces == []


# --- settings resolution ----------------------------------------------------------


def test_defaults_with_an_empty_environment() -> None:
    grpc_default = SignalSettings("grpc", "http://localhost:4317", (), insecure=True)
    assert resolve_settings(environ={}) == SdkSettings(
        resource_attributes=(),
        traces=grpc_default,
        metrics=grpc_default,
        sampler=SamplerSettings("parentbased_always_on"),
        export_interval_ms=60_000,
    )
    http = resolve_settings(environ={"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"})
    assert (http.traces, http.metrics) == (
        SignalSettings("http/protobuf", "http://localhost:4318/v1/traces", (), insecure=True),
        SignalSettings("http/protobuf", "http://localhost:4318/v1/metrics", (), insecure=True),
    )
    disabled = resolve_settings(environ={}, traces=False, metrics=False)
    assert (disabled.traces, disabled.metrics) == (None, None)


def test_grpc_insecure_follows_scheme_then_variable() -> None:
    def insecure(environ: dict[str, str]) -> bool:
        signal = resolve_settings(environ=environ).traces
        assert signal is not None
        return signal.insecure

    assert insecure({"OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector:4317"}) is False
    assert insecure({"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4317"}) is False
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4317", "OTEL_EXPORTER_OTLP_INSECURE": "true"}
    assert insecure(env) is True


def test_resource_gets_a_new_instance_id_per_build_unless_given() -> None:
    settings = resolve_settings(environ={})
    first, second = (build_resource(settings).attributes for _ in range(2))
    assert first["service.instance.id"] != second["service.instance.id"]
    assert str(first["service.name"]).startswith("unknown_service")

    given = resolve_settings(environ={"OTEL_RESOURCE_ATTRIBUTES": "service.instance.id=pod-7"})
    assert build_resource(given).attributes["service.instance.id"] == "pod-7"


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, ParentBased(ALWAYS_ON)),
        ({"OTEL_TRACES_SAMPLER": "always_on"}, ALWAYS_ON),
        ({"OTEL_TRACES_SAMPLER": "ALWAYS_OFF"}, ALWAYS_OFF),
        ({"OTEL_TRACES_SAMPLER": "parentbased_always_off"}, ParentBased(ALWAYS_OFF)),
        ({"OTEL_TRACES_SAMPLER": "traceidratio"}, TraceIdRatioBased(1.0)),
        (
            {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25"},
            ParentBased(TraceIdRatioBased(0.25)),
        ),
    ],
)
def test_sampler_from_environment(environ: dict[str, str], expected: Sampler) -> None:
    sampler = build_sampler(resolve_settings(environ=environ).sampler)
    assert sampler.get_description() == expected.get_description()


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"protocol": "thrift"}, "protocol='thrift'"),
        ({"export_interval_ms": 0}, "export_interval_ms=0"),
        ({"export_interval_ms": "50"}, "export_interval_ms='50'"),
        ({"headers": {"x-retries": 3}}, "headers="),
        ({"service_name": " "}, "service_name=' '"),
    ],
)
def test_bad_arguments_fail_naming_the_argument(kwargs: dict[str, Any], named: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(named)):
        resolve_settings(environ={}, **kwargs)


DEFAULTS = resolve_settings(environ={})


@pytest.mark.parametrize(
    ("environ", "named", "check"),
    [
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, "OTEL_EXPORTER_OTLP_PROTOCOL='http/json'",
         lambda s: s.traces.protocol == "grpc"),
        ({"OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "xml"},
         "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL='xml'", lambda s: s.metrics.protocol == "grpc"),
        ({"OTEL_METRIC_EXPORT_INTERVAL": "soon"}, "OTEL_METRIC_EXPORT_INTERVAL='soon'",
         lambda s: s.export_interval_ms == 60_000),
        ({"OTEL_METRIC_EXPORT_INTERVAL": "0"}, "OTEL_METRIC_EXPORT_INTERVAL='0'",
         lambda s: s.export_interval_ms == 60_000),
        ({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "half"},
         "OTEL_TRACES_SAMPLER_ARG='half'", lambda s: s.sampler.ratio == 1.0),
        ({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "1.5"},
         "OTEL_TRACES_SAMPLER_ARG='1.5'", lambda s: s.sampler.ratio == 1.0),
        ({"OTEL_TRACES_SAMPLER": "sometimes"}, "OTEL_TRACES_SAMPLER='sometimes'",
         lambda s: s.sampler == DEFAULTS.sampler),
        ({"OTEL_RESOURCE_ATTRIBUTES": "team,env=prod"}, "OTEL_RESOURCE_ATTRIBUTES='team'",
         lambda s: ("env", "prod") in s.resource_attributes
         and all(k != "team" for k, _ in s.resource_attributes)),
        ({"OTEL_TRACES_EXPORTER": "zipkin_json"}, "OTEL_TRACES_EXPORTER='zipkin_json'",
         lambda s: s.traces.exporters == ("otlp",) and s.metrics.exporters == ("otlp",)),
        ({"OTEL_METRICS_EXPORTER": "console,prometheus"}, "OTEL_METRICS_EXPORTER='prometheus'",
         lambda s: s.metrics.exporters == ("console",) and s.traces.exporters == ("otlp",)),
    ],
)  # fmt: skip
def test_bad_standard_variables_are_warned_about_once_and_the_default_used(
    environ: dict[str, str], named: str, check: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """As the OpenTelemetry specification asks: warn, naming the variable and
    its value, and go on with the default; never stop the application."""
    with caplog.at_level(logging.WARNING, logger="otel_ml"):
        settings = resolve_settings(environ=environ)
        again = resolve_settings(environ=environ)
    assert check(settings) and again == settings
    assert [r.getMessage() for r in caplog.records if named in r.getMessage()] != []
    assert len(caplog.records) == 1, [r.getMessage() for r in caplog.records]


@pytest.mark.parametrize(
    ("environ", "traces", "metrics"),
    [
        ({"OTEL_TRACES_EXPORTER": "none"}, False, True),
        ({"OTEL_METRICS_EXPORTER": "none"}, True, False),
        ({"OTEL_TRACES_EXPORTER": "otlp,console", "OTEL_METRICS_EXPORTER": "OTLP"}, True, True),
        ({"OTEL_SDK_DISABLED": "true"}, False, False),
        ({"OTEL_SDK_DISABLED": "TRUE", "OTEL_TRACES_EXPORTER": "otlp"}, False, False),
        ({"OTEL_SDK_DISABLED": "false"}, True, True),
    ],
)
def test_exporter_none_and_sdk_disabled_leave_signals_alone(
    environ: dict[str, str], traces: bool, metrics: bool
) -> None:
    settings = resolve_settings(environ=environ)
    assert (settings.traces is not None, settings.metrics is not None) == (traces, metrics)
    with built(environ) as handle:
        assert isinstance(handle.tracer_provider, SdkTracerProvider) is traces
        assert isinstance(handle.meter_provider, SdkMeterProvider) is metrics


_CONSOLE_AND_OTLP = """
import otel_ml
from opentelemetry import trace
handle = otel_ml.configure(service_name="console-check")
with trace.get_tracer("app").start_as_current_span("predict console-model"):
    pass
handle.shutdown()
"""


def test_console_exporter_prints_spans_beside_otlp(http_receiver: Receiver) -> None:
    """``OTEL_TRACES_EXPORTER=otlp,console``, as the SDK's configurator reads it:
    the span reaches the collector and standard output."""
    environ = {
        **os.environ,
        "OTEL_TRACES_EXPORTER": "otlp,console",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_EXPORTER_OTLP_ENDPOINT": http_receiver.endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
    }
    done = subprocess.run(
        [sys.executable, "-c", _CONSOLE_AND_OTLP],
        env=environ, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    printed = json.loads(done.stdout)
    assert printed["name"] == "predict console-model"
    assert printed["resource"]["attributes"]["service.name"] == "console-check"
    assert [span.name for _, span in http_receiver.spans()] == ["predict console-model"]


def test_configure_rejects_bad_arguments_before_touching_globals() -> None:
    with pytest.raises(SettingsError, match=re.escape("protocol='http/json'")):
        otel_ml.configure(protocol="http/json")


# --- global installation, in subprocesses --------------------------------------

_CONFIGURES_TWICE = """
import json, logging, sys
from opentelemetry import metrics, trace
import otel_ml

records = []
logging.getLogger("otel_ml").addHandler(logging.Handler())
logging.getLogger("otel_ml").handlers[0].emit = lambda r: records.append(r.getMessage())
logging.getLogger("otel_ml").setLevel(logging.INFO)
kwargs = dict(endpoint=sys.argv[1], protocol="http/protobuf", service_name="fraud-api")
handle = otel_ml.configure(**kwargs)
again = otel_ml.configure(**kwargs)
different = otel_ml.configure(**kwargs, model_name="other")
with trace.get_tracer("app").start_as_current_span("predict fraud-model"):
    metrics.get_meter("app").create_counter("ml.predictions").add(1)
print(json.dumps({
    "same_handle": handle is again is different,
    "tracer_global": trace.get_tracer_provider() is handle.tracer_provider,
    "meter_global": metrics.get_meter_provider() is handle.meter_provider,
    "created": [type(p).__module__ for p in handle.created],
    "flushed": handle.force_flush(10_000),
    "logs": records,
}))
"""

_KEEPS_APP_PROVIDER = """
import json, logging, sys
from opentelemetry import metrics, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
import otel_ml

records = []
logging.getLogger("otel_ml").addHandler(logging.Handler())
logging.getLogger("otel_ml").handlers[0].emit = lambda r: records.append(
    (r.levelname, r.getMessage()))
logging.getLogger("otel_ml").setLevel(logging.INFO)
app_exporter = InMemorySpanExporter()
app_provider = TracerProvider()
app_provider.add_span_processor(SimpleSpanProcessor(app_exporter))
trace.set_tracer_provider(app_provider)
handle = otel_ml.configure(endpoint=sys.argv[1], protocol="http/protobuf")
handle.shutdown()
with trace.get_tracer("app").start_as_current_span("after otel_ml shutdown"):
    pass
print(json.dumps({
    "tracer_kept": handle.tracer_provider is app_provider is trace.get_tracer_provider(),
    "meter_global": metrics.get_meter_provider() is handle.meter_provider,
    "created": [type(p).__name__ for p in handle.created],
    "app_spans": [s.name for s in app_exporter.get_finished_spans()],
    "logs": records,
}))
"""

_FORKED_WORKER = """
import json, logging, os, sys
import otel_ml

records = []
logging.getLogger("otel_ml").addHandler(logging.Handler())
logging.getLogger("otel_ml").handlers[0].emit = lambda r: records.append(r.getMessage())
handle = otel_ml.configure(endpoint=sys.argv[1], protocol="http/protobuf")
read_end, write_end = os.pipe()
pid = os.fork()
if pid == 0:
    worker = otel_ml.configure(endpoint=sys.argv[1], protocol="http/protobuf")
    report = {"same_handle": worker is handle, "parent": os.getppid(), "logs": records}
    os.write(write_end, json.dumps(report).encode())
    os._exit(0)
os.close(write_end)
os.waitpid(pid, 0)
print(os.read(read_end, 65536).decode())
"""


def run_python(script: str, *args: str) -> dict[str, Any]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    # Provider installation only: resource metrics (tests/resources) stay out of it.
    environ.update(OTEL_ML_PROCESS_METRICS="false", OTEL_ML_GPU_METRICS="false")
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.mark.subprocess
def test_configure_installs_globals_once(http_receiver: HttpReceiver) -> None:
    result = run_python(_CONFIGURES_TWICE, http_receiver.endpoint)

    assert result == {
        "same_handle": True,
        "tracer_global": True,
        "meter_global": True,
        "created": ["opentelemetry.sdk.trace", "opentelemetry.sdk.metrics._internal"],
        "flushed": True,
        "logs": [
            "otel_ml: hot-path histograms are aggregated in-process and exported by "
            "otel_ml's metric reader (CellsMetricReader)",
            "otel_ml.configure() was already called with different settings; "
            "keeping the first configuration",
        ],
    }
    [(resource, span)] = http_receiver.spans()
    assert (span.name, resource["service.name"]) == ("predict fraud-model", "fraud-api")
    assert list(http_receiver.metric_names()) == ["ml.predictions"]


@pytest.mark.subprocess
def test_configure_keeps_a_tracer_provider_the_app_set(http_receiver: HttpReceiver) -> None:
    result = run_python(_KEEPS_APP_PROVIDER, http_receiver.endpoint)

    assert result == {
        "tracer_kept": True,
        "meter_global": True,
        "created": ["MeterProvider"],
        "app_spans": ["after otel_ml shutdown"],
        "logs": [
            [
                "INFO",
                "otel_ml.configure(): the application already set a TracerProvider "
                "(TracerProvider); keeping it",
            ],
            [
                "INFO",
                "otel_ml: hot-path histograms are aggregated in-process and exported by "
                "otel_ml's metric reader (CellsMetricReader)",
            ],
        ],
    }
    assert http_receiver.traces == []


@pytest.mark.subprocess
def test_configure_after_fork_warns_that_the_instance_id_is_shared(
    http_receiver: HttpReceiver,
) -> None:
    result = run_python(_FORKED_WORKER, http_receiver.endpoint)

    assert result == {
        "same_handle": True,
        "parent": result["parent"],
        "logs": [
            f"otel_ml.configure() ran in process {result['parent']} before this process was "
            "forked from it; this worker shares its service.instance.id. Call configure() in "
            "each worker after the fork instead."
        ],
    }


def _model() -> dict[str, str]:
    return {"model_name": MODEL["ml.model.name"], "model_version": MODEL["ml.model.version"]}


def _histogram_points(receiver: Receiver, name: str) -> list[Any]:
    return [
        point
        for request in receiver.metrics
        for rm in request.request.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
        if metric.name == name
        for point in metric.histogram.data_points
    ]


# --- shutdown with no collector -------------------------------------------------

_EXITS_WITHOUT_FLUSHING = """
import logging, sys
import otel_ml
from opentelemetry import metrics, trace
logging.basicConfig(level=logging.INFO)
otel_ml.configure(endpoint=sys.argv[1], protocol=sys.argv[2], service_name="no-collector")
with trace.get_tracer("app").start_as_current_span("predict fraud-model"):
    metrics.get_meter("app").create_counter("ml.predictions").add(1)
"""


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_exit_without_a_collector_drops_the_final_flush_instead_of_retrying(
    protocol: str,
) -> None:
    """The README's first run, with no collector: the exit handler that
    configure() registers finds nothing listening, says so once per signal and
    closes the exporters, so the final export is not retried for up to
    OTEL_EXPORTER_OTLP_TIMEOUT per signal (8-16 s on this machine before)."""
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    done = subprocess.run(
        [sys.executable, "-c", _EXITS_WITHOUT_FLUSHING, endpoint, protocol],
        env={k: v for k, v in os.environ.items() if not k.startswith("OTEL_")},
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    said = [line for line in done.stderr.splitlines() if "nothing accepts connections" in line]
    assert len(said) == 2, done.stderr
    assert {"traces" in line for line in said} == {True, False}
    assert endpoint in said[0]
    assert "retrying" not in done.stderr and "Transient error" not in done.stderr, done.stderr


def test_exit_with_a_collector_flushes_the_final_batch(receiver: Receiver) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _EXITS_WITHOUT_FLUSHING, receiver.endpoint, protocol_of(receiver)],
        env={k: v for k, v in os.environ.items() if not k.startswith("OTEL_")},
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert "nothing accepts connections" not in done.stderr
    assert [span.name for _, span in receiver.spans()] == ["predict fraud-model"]
    assert "ml.predictions" in receiver.metric_names()


def test_accepts_connections_tells_a_listening_port_from_a_closed_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("grpc_proxy", "https_proxy", "http_proxy", "HTTPS_PROXY", "HTTP_PROXY"):
        monkeypatch.delenv(name, raising=False)
    closed = _closed_port()
    assert not accepts_connections(f"http://127.0.0.1:{closed}")
    assert not accepts_connections(f"127.0.0.1:{closed}")  # gRPC's scheme-less form
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        assert accepts_connections(f"http://127.0.0.1:{port}/v1/traces")
        assert accepts_connections(f"127.0.0.1:{port}")
    # Where a direct connection proves nothing, the final flush is attempted.
    assert accepts_connections("unix:///run/otelcol.sock")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert accepts_connections(f"http://127.0.0.1:{closed}")
