"""Parsers of setting values: raw text (a variable's value or a keyword argument) to a value.

Each raises ``ValueError`` with what it expected; :mod:`otel_ml.config` adds
the variable or argument at fault.
"""

from __future__ import annotations

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


STORE_FORMS = (
    "memory, sqlite:///path/to/predictions.db, redis://[:password@]host[:port][/db] or rediss://..."
)


def _parse_store_url(raw: str) -> str:
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
