"""What ``otel-ml demo`` was asked to do (no imports beyond the standard
library: the command reads it before it checks that the demo's extra is installed)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DemoOptions:
    """What ``otel-ml demo`` was asked to do."""

    duration_s: float = 60.0
    otlp_endpoint: str | None = None
    live: bool = True
    serve: bool = False
