"""The real pipeline on this machine, without Docker: Collector, Jaeger v2, Prometheus,
Alertmanager.

    python3 -m stack build [--optional]  # build or install the binaries once (cached)
    python3 -m stack up                  # start what is not running, wait until healthy
    python3 -m stack status              # what runs, where
    python3 -m stack down                # stop what `up` started

Run from the repository root (``make stack`` / ``make stack-down`` do). The
end-to-end tests use the same functions. Standard library only, so any
Python 3.10+ runs it without the project's virtualenv.
"""

from __future__ import annotations

from stack.build import (
    COLLECTOR_VERSION,
    Paths,
    build,
    ensure_debian_tool,
    missing,
)
from stack.components import ALERTMANAGER_VERSION, JAEGER_VERSION, PROMETHEUS_VERSION
from stack.configs import (
    ALERT_RECEIVER_URL,
    alert_receivers,
    alertmanager_config,
    prometheus_config,
)
from stack.errors import StackError
from stack.run import (
    ALERTMANAGER_URL,
    JAEGER_QUERY_URL,
    OTLP_GRPC_ENDPOINT,
    PROMETHEUS_URL,
    down,
    services,
    status,
    up,
)

__all__ = [
    "ALERTMANAGER_URL",
    "ALERTMANAGER_VERSION",
    "ALERT_RECEIVER_URL",
    "COLLECTOR_VERSION",
    "JAEGER_QUERY_URL",
    "JAEGER_VERSION",
    "OTLP_GRPC_ENDPOINT",
    "PROMETHEUS_URL",
    "PROMETHEUS_VERSION",
    "Paths",
    "StackError",
    "alert_receivers",
    "alertmanager_config",
    "build",
    "down",
    "ensure_debian_tool",
    "missing",
    "prometheus_config",
    "services",
    "status",
    "up",
]
