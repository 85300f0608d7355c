"""Who a GenAI call is for: an opt-in, bounded tenant attribute on the LLM
metrics, so cost, tokens and latency can be split per tenant.

Off unless a source is named; the first that knows wins: a callback the user
passes (``tenant=``, called at the start of each call, in its context), then
``OTEL_ML_GENAI_TENANT``: ``header:<name>``, a header of the HTTP request the
call runs in (where ``instrument(app)`` or the launcher's FastAPI hook serves
it), or ``baggage:<key>``, a W3C baggage entry propagated from the caller.
The first ``OTEL_ML_GENAI_MAX_TENANTS`` distinct tenants are kept; later ones
are ``__other__``, so a metric never gets more series than that.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from opentelemetry import baggage

from otel_ml._internal import guard
from otel_ml._internal.ids import current_request
from otel_ml.config import Settings
from otel_ml.outputs.labels import BoundedLabels

__all__ = ["ML_GENAI_TENANT", "TenantSource", "Tenants"]

ML_GENAI_TENANT: Final = "ml.genai.tenant"
"""The call's tenant, capped (top-K then ``__other__``). GenAI client metrics and span;
only when a tenant source is configured."""

TenantSource = Callable[[], "str | None"]
"""A user's callback: the current call's tenant, or ``None`` (not recorded)."""


class Tenants:
    """Reads the current call's tenant from its source and caps the values."""

    __slots__ = ("_baggage_key", "_callback", "_header", "labels")

    def __init__(
        self,
        limit: int,
        header: str | None = None,
        baggage_key: str | None = None,
        callback: TenantSource | None = None,
    ) -> None:
        if callback is not None and not callable(callback):
            raise TypeError(f"tenant={callback!r}: expected a callable returning a str or None")
        self.labels = BoundedLabels(limit)
        self._header = header.lower().encode("latin-1") if header else None
        self._baggage_key = baggage_key
        self._callback = callback

    @classmethod
    def resolve(cls, settings: Settings, callback: TenantSource | None = None) -> Tenants | None:
        """The tenants of an entry point: ``None`` (off) when no source is configured."""
        kind, _, name = (settings.genai_tenant or "").partition(":")
        if callback is None and not name:
            return None
        header = name if kind == "header" else None
        key = name if kind == "baggage" else None
        return cls(settings.genai_max_tenants, header, key, callback)

    def current(self) -> str | None:
        """The raw tenant of the call starting now (``None``: not known)."""
        value: Any = None
        if self._callback is not None:
            value = self._callback()
        if value is None and self._header is not None:
            value = self._from_header(self._header)
        if value is None and self._baggage_key is not None:
            value = baggage.get_baggage(self._baggage_key)
        return value if isinstance(value, str) and value else None

    def tag(self, metric_attrs: dict[str, Any]) -> dict[str, Any]:
        """``metric_attrs`` with the capped tenant added (unchanged when unknown)."""
        try:
            tenant = self.current()
        except Exception as exc:  # the user's callback: never the caller's failure
            guard.report("genai.tenant", exc)
            return metric_attrs
        if tenant is None:
            return metric_attrs
        return {**metric_attrs, ML_GENAI_TENANT: self.labels(tenant)}

    @staticmethod
    def _from_header(name: bytes) -> str | None:
        request = current_request.get()
        if request is None:
            return None
        for key, value in request.headers:
            if key == name:
                return value.decode("latin-1").strip()
        return None
