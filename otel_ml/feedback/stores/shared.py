"""What the shared stores have in common: buffered puts, the label join, errors, records.

A shared store keeps predictions where every worker (SQLite) or every
replica (Redis) finds them. ``put`` only buffers (:mod:`.flusher`); the
backend's ``_write`` stores batches, ``_take`` removes one prediction
atomically across processes, so a label posted to two workers at once is
``matched`` once and ``duplicate`` once. Records travel as JSON (never
pickle: the store is shared with other processes) and name their model, not
a recorder of this process; the wall clock is the time base, shared by hosts.

A backend that fails is counted in :attr:`SharedStore.errors` (read by the
``ml.feedback.store.errors`` counter), said once per outage in the log, and
skipped for :data:`DOWN_S` by the label join, which answers
``store_unavailable`` meanwhile. No OpenTelemetry here.
"""

from __future__ import annotations

import atexit
import json
import logging
import math
import time
import weakref
from urllib.parse import urlsplit

from otel_ml.feedback.store import Outcome, Record, StoredPrediction
from otel_ml.feedback.stores.flusher import Flusher

POLL_S = 0.02
"""How often a label that found nothing looks again during its grace period."""
DOWN_S = 1.0
"""After a failed lookup, labels count ``store_unavailable`` this long without trying."""

_logger = logging.getLogger("otel_ml")


class SharedStore:
    """Base of the SQLite and Redis stores (see the module docstring)."""

    backend = ""

    def __init__(self, url: str, capacity: int, ttl_s: float) -> None:
        if capacity < 1 or ttl_s <= 0:
            raise ValueError("capacity and ttl_s must be positive")
        self.url = url
        self.capacity = capacity
        self.ttl_s = ttl_s
        self.errors = {"write": 0, "join": 0}
        """Predictions not stored (``write``) and labels not checked (``join``)."""
        self._models: dict[int, tuple[str, str]] = {}
        self._keys: dict[tuple[str, str], int] = {}
        self._down_until = 0.0
        self._healthy = True
        self._flusher = Flusher(self._write_records, self._written, self._maintain)
        atexit.register(_close_at_exit, weakref.ref(self))

    def now(self) -> float:
        """Wall-clock seconds: the time base every process and host shares."""
        return time.time()

    def bind(self, key: int, model_name: str, model_version: str) -> None:
        """Recorder ``key`` of this process remembers predictions of that model."""
        self._models[key] = (model_name, model_version)
        self._keys[(model_name, model_version)] = key
        self._keys[(model_name, "")] = key  # the newest recorder of any version: see _decode

    def put(self, prediction_id: str, record: Record) -> None:
        """Buffer a prediction for the writer (request path: an append, no I/O)."""
        self._flusher.push((prediction_id, record))

    def flush(self) -> None:
        """Write what is buffered now, in this thread."""
        self._flusher.flush()

    def close(self) -> None:
        """Write what is buffered and stop the writer."""
        self._flusher.close()

    def take(
        self, prediction_id: str, grace_until: float | None = None
    ) -> tuple[Outcome, StoredPrediction | None]:
        """Remove the prediction atomically across processes; look again for an
        ``unknown`` one until ``grace_until`` (``time.monotonic()``)."""
        names = sorted({name for name, _ in list(self._models.values())})
        if not names:
            return "unknown", None  # no model of this process keeps predictions
        if time.monotonic() < self._down_until:
            return self._unavailable(None)
        try:
            outcome, raw = self._take(prediction_id, names)
            while outcome == "unknown" and grace_until is not None:
                remaining = grace_until - time.monotonic()
                if remaining <= 0:
                    break
                self._flusher.wake()  # it may be this worker's own, still buffered
                time.sleep(min(POLL_S, remaining))
                outcome, raw = self._take(prediction_id, names)
        except Exception as exc:
            return self._unavailable(exc)
        self._recovered()
        return self._decode(raw) if raw is not None else (outcome, None)

    # --- for the backends --------------------------------------------------------

    def _write(self, rows: list[tuple[str, str, float, str]]) -> None:
        """Store ``(prediction id, model name, created, record JSON)`` rows."""
        raise NotImplementedError

    def _take(self, prediction_id: str, names: list[str]) -> tuple[Outcome, str | bytes | None]:
        """``("matched", record JSON)`` removed for good, or ``duplicate``/``unknown``."""
        raise NotImplementedError

    def _maintain(self) -> None:
        """Enforce capacity and TTL (called by the writer every few seconds)."""

    # --- internals ---------------------------------------------------------------

    def _write_records(self, batch: list[tuple[str, Record]]) -> None:
        rows = []
        for prediction_id, record in batch:
            name, version = self._models.get(record[1], ("", ""))
            fields = [record[0], name, version, *record[2:]]
            rows.append((prediction_id, name, record[0], json.dumps(fields)))
        self._write(rows)

    def _decode(self, raw: str | bytes) -> tuple[Outcome, StoredPrediction | None]:
        created, name, version, label, value, score, labels, values, segments, *span = json.loads(
            raw
        )
        if not math.isfinite(created) or self.now() - created >= self.ttl_s:
            return "expired", None
        # A prediction of another version of the model (a rolling update) joins
        # to this process's recorder of the model.
        key = self._keys.get((name, version)) or self._keys.get((name, ""), 0)
        record = StoredPrediction(
            created, key, label, value, score,
            tuple(labels) if labels is not None else None,
            tuple(values) if values is not None else None,
            tuple((str(n), str(v)) for n, v in segments) if segments else None,
            *span,
        )  # fmt: skip
        return "matched", record

    def _written(self, ok: bool, lost: int) -> None:
        if ok:
            self._recovered()
            return
        self.errors["write"] += lost
        self._failed("write", None)

    def _unavailable(self, exc: Exception | None) -> tuple[Outcome, None]:
        self.errors["join"] += 1
        if exc is not None:
            self._down_until = time.monotonic() + DOWN_S
            self._failed("join", exc)
        return "store_unavailable", None

    def _failed(self, operation: str, exc: Exception | None) -> None:
        if self._healthy:
            self._healthy = False
            _logger.warning(
                "otel_ml: the feedback store %s failed (%s: %s); predictions are served as "
                "usual, what cannot be stored or checked is counted in ml.feedback.store.errors, "
                "and otel_ml retries with back-off",
                describe(self.url), operation, exc or "buffer full or write failed",
            )  # fmt: skip

    def _recovered(self) -> None:
        if not self._healthy:
            self._healthy = True
            _logger.warning("otel_ml: the feedback store %s works again", describe(self.url))


def _close_at_exit(ref: weakref.ref[SharedStore]) -> None:
    store = ref()
    if store is not None:
        store.close()


def describe(url: str) -> str:
    """``url`` without its password, for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=netloc).geturl()
