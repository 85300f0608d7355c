"""Parsers of setting values: each takes the raw text of a variable and
returns the value, or raises ``ValueError`` saying what was expected (the
caller names the variable)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import field
from typing import Any

HTTP_LAYERS = ("otel_ml", "contrib")
"""The HTTP server layers ``instrument(app)`` can apply (``OTEL_ML_HTTP_INSTRUMENTATION``)."""
TRUE_VALUES = frozenset({"1", "true", "yes", "on"})
FALSE_VALUES = frozenset({"0", "false", "no", "off", ""})


def parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in TRUE_VALUES:
        return True
    if value in FALSE_VALUES:
        return False
    raise ValueError("expected one of 1/0, true/false, yes/no, on/off")


CAPTURE_MODES = {"span_only": True, "span_and_event": True, "event_only": False,
                 "no_content": False}  # fmt: skip
"""The values of ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` that the
OpenTelemetry util-genai reads, and whether each puts content on spans (otel_ml
emits no GenAI events: ``event_only`` keeps spans free of content)."""


def parse_capture(raw: str) -> bool:
    value = raw.strip().lower()
    if value in CAPTURE_MODES:
        return CAPTURE_MODES[value]
    try:
        return parse_bool(value)
    except ValueError:
        raise ValueError(f"expected one of {', '.join(CAPTURE_MODES)} or a boolean") from None


def parse_positive_int(raw: str) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise ValueError("expected a whole number") from None
    if value < 1:
        raise ValueError("expected a number >= 1")
    return value


def parse_positive_float(raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ValueError("expected a number") from None
    if not value > 0 or value == float("inf"):
        raise ValueError("expected a finite number > 0")
    return value


def parse_str(raw: str) -> str:
    value = raw.strip()
    if not value:
        raise ValueError("expected a non-empty string")
    return value


def parse_optional_str(raw: str) -> str | None:
    return raw.strip() or None


def parse_names(raw: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in raw.split(",") if n.strip())
    if not all(n.replace("_", "").replace("-", "").isalnum() for n in names):
        raise ValueError("expected comma separated names (letters, digits, '-', '_')")
    return names


def parse_header_name(raw: str) -> str:
    value = raw.strip().lower()
    if not value or not all(c.isalnum() or c in "-_" for c in value):
        raise ValueError("expected an HTTP header name (letters, digits, '-', '_')")
    return value


def parse_http_layer(raw: str) -> str:
    value = raw.strip().lower()
    if value not in HTTP_LAYERS:
        raise ValueError(f"expected one of {', '.join(HTTP_LAYERS)}")
    return value


STORE_FORMS = (
    "memory, sqlite:///path/to/predictions.db, redis://[:password@]host[:port][/db] or rediss://..."
)


def parse_store_url(raw: str) -> str:
    """Where predictions are kept for labels: ``memory``, an SQLite file, or Redis."""
    from urllib.parse import urlsplit

    value = raw.strip()
    if value.lower() == "memory":
        return "memory"
    scheme = value.partition("://")[0].lower()
    if scheme == "sqlite":
        if not value.startswith("sqlite:///") or value.endswith("/"):
            raise ValueError(
                f"expected sqlite:/// and the file's absolute path; forms: {STORE_FORMS}"
            )
        return value
    if scheme in ("redis", "rediss"):
        try:
            parts = urlsplit(value)
            port, db = parts.port, parts.path.strip("/")
        except ValueError as exc:
            raise ValueError(f"not a Redis URL ({exc}); forms: {STORE_FORMS}") from None
        if not parts.hostname or (db and not db.isdigit()):
            raise ValueError(
                f"expected a host and an optional database number; forms: {STORE_FORMS}"
            )
        del port
        return value
    raise ValueError(f"expected one of {STORE_FORMS}")


def parse_tenant_source(raw: str) -> str | None:
    """``header:<name>`` (lower-cased) or ``baggage:<key>``; empty: ``None``."""
    value = raw.strip()
    if not value:
        return None
    kind, _, name = value.partition(":")
    if kind == "header":
        return f"header:{parse_header_name(name)}"
    if kind == "baggage" and name.strip():
        return f"baggage:{name.strip()}"
    raise ValueError("expected header:<name> or baggage:<key>")


def setting(
    default: Any,
    env: str,
    parse: Callable[[str], Any],
    doc: str,
    fallback_env: tuple[str, ...] = (),
) -> Any:
    """A field of ``Settings``: its default, variable, parser and documentation."""
    return field(
        default=default,
        metadata={"env": env, "parse": parse, "doc": doc, "fallback_env": fallback_env},
    )


def parse_rate(raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ValueError("expected a number") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError("expected a share between 0 and 1")
    return value
