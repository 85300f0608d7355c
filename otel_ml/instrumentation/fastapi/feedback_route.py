"""The feedback route of the FastAPI one-liner: delayed labels over HTTP.

A pure ASGI endpoint mounted as a Starlette ``Route`` (POST only) by
``instrument(app, feedback_route="/feedback")``. It reads the body itself, so
an oversize body is refused with 413 before anything is parsed. The body is
one label ``{"prediction_id": ..., "actual": ...}``, a list of them, or
``{"items": [...]}``. The whole request is validated before any label is
recorded: a bad item rejects the request (422, naming the item and field) and
records nothing. Labels that find no prediction are counted, never an error.
Feedback on an LLM answer (``{"response_id": ..., "thumbs": "up"}`` or
``"score": 0..1``, keyed by ``response_id`` or the request's ``prediction_id``)
is recorded as ``gen_ai.evaluation.result``; the body counts it under ``answers``.

Status codes: 200 with counts per outcome; 401 (with ``WWW-Authenticate:
Bearer``) when ``OTEL_ML_FEEDBACK_TOKEN`` is set and the request does not
carry it; 413 for a body over ``OTEL_ML_FEEDBACK_MAX_BODY_BYTES`` or more
than ``OTEL_ML_FEEDBACK_MAX_ITEMS`` labels (split the batch and retry);
422 for a body that is not the JSON described above (a string with a lone
surrogate, which no exporter can encode, included); 503 (with
``Retry-After``) when a shared prediction store (``OTEL_ML_FEEDBACK_STORE``)
could not be asked about some labels: the body counts them under
``store_unavailable``; the others were recorded, so resend only those.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry import metrics, trace
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from otel_ml.config import Settings, get_settings
from otel_ml.feedback.store import OUTCOMES
from otel_ml.genai.evaluation.feedback import answer_feedback_result, record_answer_result
from otel_ml.genai.evaluation.results import EvaluationResult
from otel_ml.instrumentation.fastapi.auth import BearerToken
from otel_ml.models.labels import record_labels
from otel_ml.outputs.extract import MAX_ROW_DETAIL, encodable

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

RETRY_AFTER_S = 5
MAX_PREDICTION_ID_LENGTH = 256
_SCALARS = (str, int, float)  # bool is an int: JSON true/false are accepted as classes


class PayloadError(Exception):
    """A request the route refuses: the HTTP status and a message for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class FeedbackConfig:
    """What one feedback route is bound to: the app's model, limits and token."""

    model_name: str
    model_version: str
    max_items: int
    max_body_bytes: int
    token: str | None
    tracer_provider: trace.TracerProvider | None = None
    meter_provider: metrics.MeterProvider | None = None
    settings: Settings | None = None
    """The app's settings (its prediction store); default: the process settings."""


def feedback_route(path: str, config: FeedbackConfig) -> Route:
    """A POST route at ``path`` that joins the labels it receives to predictions."""
    return Route(path, FeedbackEndpoint(config), methods=["POST"], name="otel_ml_feedback")


class FeedbackEndpoint:
    """The ASGI app behind the route: authenticate, read, validate, record, count."""

    def __init__(self, config: FeedbackConfig) -> None:
        self._config = config
        self._token = BearerToken(config.token, "otel-ml feedback")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers", ()))
        if not self._token.allows(headers):
            detail = {"detail": "missing or wrong bearer token"}
            await _respond(send, 401, detail, [self._token.challenge])
            return
        try:
            body = await read_body(receive, headers, self._config.max_body_bytes)
            if body is None:
                return  # the client went away
            labels = parse_labels(body, self._config.max_items)
        except PayloadError as exc:
            await _respond(send, exc.status, {"detail": exc.message})
            return
        counts: dict[str, Any] = await run_in_threadpool(self._record, labels)
        answer: dict[str, Any] = {"received": len(labels), **counts}
        unchecked = counts["store_unavailable"]
        if unchecked:
            answer["detail"] = (
                f"the prediction store is unavailable: {unchecked} of {len(labels)} labels "
                "could not be checked (counted under store_unavailable); send those again later"
            )
            await _respond(send, 503, answer, [(b"retry-after", str(RETRY_AFTER_S).encode())])
            return
        await _respond(send, 200, answer)

    def _record(self, labels: list[tuple[str, Any]]) -> dict[str, Any]:
        config = self._config
        verdicts = [(key, r) for key, r in labels if isinstance(r, EvaluationResult)]
        labels = [(key, a) for key, a in labels if not isinstance(a, EvaluationResult)]
        counts = record_labels(labels, config.model_name, config.model_version,
                               config.tracer_provider, config.meter_provider,
                               config.settings or get_settings())  # fmt: skip
        out: dict[str, Any] = {outcome: counts[outcome] for outcome in OUTCOMES}
        if verdicts:
            found = [
                record_answer_result(key, result, config.tracer_provider, config.meter_provider)
                for key, result in verdicts
            ]
            out["answers"] = {"matched": sum(found), "unknown": len(found) - sum(found)}
        return out


async def read_body(receive: Receive, headers: dict[bytes, bytes], limit: int) -> bytes | None:
    """The request body, or ``PayloadError(413)`` as soon as it exceeds ``limit`` bytes;
    ``None`` when the client disconnects first."""
    declared = headers.get(b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadError(413, f"request body over the limit of {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadError(413, f"request body over the limit of {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def parse_labels(body: bytes, max_items: int) -> list[tuple[str, Any]]:
    """``(prediction_id, actual)`` pairs from a JSON body, or a :class:`PayloadError`."""
    try:
        data = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise PayloadError(422, f"body is not valid JSON: {exc}") from None
    if isinstance(data, dict) and "items" in data:
        items, where = data["items"], "items"
        if not isinstance(items, list):
            raise PayloadError(422, f"items: expected a list, got {_kind(items)}")
    elif isinstance(data, list):
        items, where = data, "items"
    elif isinstance(data, dict):
        return [_item(data, "")]
    else:
        raise PayloadError(
            422,
            'expected {"prediction_id": ..., "actual": ...}, a list of them or '
            f'{{"items": [...]}}, got {_kind(data)}',
        )
    if not items:
        raise PayloadError(422, f"{where}: expected at least one label")
    if len(items) > max_items:
        raise PayloadError(413, f"{len(items)} labels in one request, at most {max_items}")
    return [_item(item, f"{where}[{i}]") for i, item in enumerate(items)]


def _item(item: Any, where: str) -> tuple[str, Any]:
    """One label; ``where`` locates it in the body for messages (empty: the body)."""
    if not isinstance(item, dict):
        raise PayloadError(422, f"{where}: expected an object, got {_kind(item)}")
    prefix = f"{where}." if where else ""
    if "actual" not in item and ("thumbs" in item or "score" in item):
        return _answer_item(item, prefix)
    for key in ("prediction_id", "actual"):
        if key not in item:
            raise PayloadError(422, f"{prefix}{key}: field required")
    prediction_id = _id(item, "prediction_id", prefix)
    return prediction_id, _actual(item["actual"], f"{prefix}actual")


def _id(item: dict[str, Any], field: str, prefix: str) -> str:
    """The id under ``field``: a non-empty string of valid Unicode, not too long."""
    value = item.get(field)
    if not isinstance(value, str) or not 0 < len(value) <= MAX_PREDICTION_ID_LENGTH:
        raise PayloadError(
            422,
            f"{prefix}{field}: expected a non-empty string of at most "
            f"{MAX_PREDICTION_ID_LENGTH} characters, got {_kind(value)}",
        )
    _check_text(value, f"{prefix}{field}")
    return value


def _answer_item(item: dict[str, Any], prefix: str) -> tuple[str, EvaluationResult]:
    """Feedback on an LLM answer: ``{"response_id" or "prediction_id": ..., "thumbs":
    "up"|"down"}`` or ``"score": 0..1``."""
    key = _id(item, "response_id" if "response_id" in item else "prediction_id", prefix)
    try:
        return key, answer_feedback_result(item.get("score"), item.get("thumbs"))
    except ValueError as exc:
        raise PayloadError(422, f"{prefix}{exc}") from None


def _check_text(value: Any, where: str) -> None:
    """Refuse a string that is not valid Unicode (a lone surrogate, ``"\\ud800"`` in JSON):
    no exporter can encode it, and each one would be logged with a traceback."""
    if isinstance(value, str) and encodable(value) != value:
        position = next(i for i, c in enumerate(value) if "\ud800" <= c <= "\udfff")
        raise PayloadError(
            422, f"{where}: not valid Unicode (a lone surrogate at character {position})"
        )


def _actual(actual: Any, where: str) -> Any:
    """A class or value, or for a batch prediction a list of them (one per row)."""
    if isinstance(actual, list):
        if not 0 < len(actual) <= MAX_ROW_DETAIL:
            raise PayloadError(
                422, f"{where}: a batch label needs 1 to {MAX_ROW_DETAIL} rows, got {len(actual)}"
            )
        for i, row in enumerate(actual):
            if not _is_scalar(row):
                raise PayloadError(
                    422, f"{where}[{i}]: expected a class (string) or a number, got {_kind(row)}"
                )
            _check_text(row, f"{where}[{i}]")
        return actual
    if not _is_scalar(actual):
        raise PayloadError(
            422,
            f"{where}: expected a class (string), a number or a list of them (one per row of "
            f"a batch prediction), got {_kind(actual)}",
        )
    _check_text(actual, where)
    return actual


def _is_scalar(value: Any) -> bool:
    return isinstance(value, _SCALARS) and not (
        isinstance(value, float) and not math.isfinite(value)
    )


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


async def _respond(
    send: Send, status: int, payload: dict[str, Any], headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    body = json.dumps(payload).encode("utf-8")
    all_headers = [(b"content-type", b"application/json"),
                   (b"content-length", str(len(body)).encode("ascii")), *headers]  # fmt: skip
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": body})
