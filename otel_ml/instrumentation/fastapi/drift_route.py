"""The drift page of the FastAPI one-liner: ``instrument(app, drift_page="/ml/drift")``.

A GET route that renders the app's model's drift monitor: the HTML page, or
its JSON twin with ``?format=json``. It reads a snapshot of the monitor (see
:meth:`~otel_ml.drift.window.DriftWindow.snapshot`) and scores nothing: scores
are those of the last window closed at metric collection time. The endpoint
is synchronous, so Starlette runs it in its thread pool, away from the event
loop. Only aggregates are shown: counts per bin of the reference profile.
With a token (``OTEL_ML_DRIFT_PAGE_TOKEN``, else ``OTEL_ML_FEEDBACK_TOKEN``)
a request without it gets 401; without one the page is open, which is
logged once when it is added.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from otel_ml._internal import guard
from otel_ml.instrumentation.fastapi.auth import BearerToken, announce_open

if TYPE_CHECKING:
    from opentelemetry.metrics import Counter
    from starlette.applications import Starlette

    from otel_ml.drift.monitor import DriftMonitor

COMPONENT = "fastapi.drift_page"

CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'"
"""What the page needs: its own inline styles, nothing else (it has no script)."""

_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
}


class DriftPage:
    """The drift page route of one app and how it finds the model's monitor."""

    def __init__(
        self,
        path: str,
        model: str | None,
        monitor: Callable[[], DriftMonitor | None],
        internal_errors: Counter | None = None,
        token: str | None = None,
    ) -> None:
        self.path = path
        self._model = model
        self._monitor = monitor
        self._errors = internal_errors
        self._token = token
        self._bearer = BearerToken(token, "otel-ml drift page")
        self.route = Route(path, self._endpoint, methods=["GET"], name="otel_ml_drift_page")

    @classmethod
    def check(
        cls,
        app: Starlette,
        path: str,
        model: str | None,
        monitor: Callable[[], Any],
        internal_errors: Counter | None = None,
        token: str | None = None,
    ) -> DriftPage:
        """The route to add, after checking that no route of the app owns ``path``."""
        if any(getattr(route, "path", None) == path for route in app.router.routes):
            raise ValueError(f"drift_page={path!r}: the app already has a route at that path")
        return cls(path, model, monitor, internal_errors, token)

    def apply(self, app: Starlette) -> None:
        """Mount the route first, so no catch-all route hides it."""
        app.router.routes.insert(0, self.route)
        announce_open(self._token, "drift page", self.path, "OTEL_ML_DRIFT_PAGE_TOKEN")

    def undo(self, app: Starlette) -> None:
        """Remove the route."""
        app.router.routes[:] = [r for r in app.router.routes if r is not self.route]

    def document(self) -> dict[str, Any]:
        """The page's JSON twin as it stands now."""
        # Imported on use: the drift modules pull in scipy, which an app without
        # a drift page never needs.
        from otel_ml.report.data import monitor_section, page_document

        monitor = self._monitor()
        if monitor is not None:
            return page_document(f"Drift: {monitor.model_name}", [monitor_section(monitor)])
        if self._model is None:
            note = (
                "No drift monitor: instrument() was called without a model name, so there "
                "is no model to watch. Pass model_name and reference= to instrument()."
            )
        else:
            note = (
                f"No drift monitor for model {self._model!r}: pass reference= (a profile "
                "written by `otel-ml profile`) to instrument() or wrap_model(), or set "
                "OTEL_ML_REFERENCE_PROFILE."
            )
        return page_document("Drift", [], note)

    def _endpoint(self, request: Request) -> Response:
        if not self._bearer.allows(dict(request.scope.get("headers", ()))):
            name, value = self._bearer.challenge
            headers = {**_HEADERS, name.decode(): value.decode()}
            return PlainTextResponse("missing or wrong bearer token", 401, headers=headers)
        wanted = request.query_params.get("format", "html")
        if wanted not in ("html", "json"):
            return PlainTextResponse(
                f"unknown format {wanted!r}: use format=html or format=json",
                status_code=400,
                headers=_HEADERS,
            )
        try:
            doc = self.document()
            if wanted == "json":
                return JSONResponse(doc, headers=_HEADERS)
            from otel_ml.report.page import render_page

            return HTMLResponse(render_page(doc), headers=_HEADERS)
        except Exception as exc:  # our telemetry's page: counted and logged, never raised
            guard.report(COMPONENT, exc, self._errors)
            return PlainTextResponse(
                "the drift page failed; otel_ml logged why", status_code=500, headers=_HEADERS
            )
