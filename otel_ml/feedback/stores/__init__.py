"""Prediction store backends, chosen by ``OTEL_ML_FEEDBACK_STORE``.

- ``memory`` (default): :class:`~otel_ml.feedback.store.PredictionStore`, this
  process only;
- ``sqlite:///path.db``: :class:`~.sqlite.SqliteStore`, every worker of one host;
- ``redis://`` / ``rediss://``: :class:`~.redis_store.RedisStore`, every replica.

All three follow :class:`~otel_ml.feedback.store.Store`.
"""

from __future__ import annotations

import weakref

from otel_ml.config import Settings
from otel_ml.feedback.store import PredictionStore, Store
from otel_ml.feedback.stores.shared import SharedStore

__all__ = ["SharedStore", "open_store", "shared_stores"]

_shared: weakref.WeakSet[SharedStore] = weakref.WeakSet()


def open_store(settings: Settings) -> Store:
    """A new store for ``settings.feedback_store``, bounded by the feedback settings."""
    url = settings.feedback_store
    capacity, ttl_s = settings.feedback_max_predictions, settings.feedback_ttl_seconds
    if url == "memory":
        return PredictionStore(capacity, ttl_s)
    store: SharedStore
    if url.startswith("sqlite:"):
        from otel_ml.feedback.stores.sqlite import SqliteStore

        store = SqliteStore(url, capacity, ttl_s)
    else:
        from otel_ml.feedback.stores.redis_store import RedisStore

        store = RedisStore(url, capacity, ttl_s)
    _shared.add(store)
    return store


def shared_stores() -> list[SharedStore]:
    """The shared stores open in this process (their ``errors`` feed a counter)."""
    return list(_shared)
