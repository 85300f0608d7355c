"""The process's prediction stores, one per ``OTEL_ML_FEEDBACK_STORE`` value."""

from __future__ import annotations

import logging
import os
import sys
import threading

from otel_ml._internal.prefork import prefork_server
from otel_ml.config import Settings
from otel_ml.feedback.store import Store
from otel_ml.feedback.stores import open_store

_logger = logging.getLogger("otel_ml")
_lock = threading.Lock()
_stores: dict[str, Store] = {}


def prediction_store(settings: Settings) -> Store:
    """The process-wide store ``settings.feedback_store`` names, sized by the
    settings of the first model that keeps predictions there (or set by
    :func:`use_prediction_store`)."""
    url = settings.feedback_store
    store = _stores.get(url)
    if store is None:
        with _lock:
            store = _stores.get(url)
            if store is None:
                store = _stores[url] = open_store(settings)
                if url == "memory":
                    _warn_if_prefork()
    return store


def use_prediction_store(store: Store | None, url: str = "memory") -> Store | None:
    """Make ``store`` the process-wide store for ``url`` (``None``: the next model
    opens a new one); returns the one it replaces. For tests and custom clocks:
    models that already keep predictions keep the store they started with."""
    with _lock:
        previous = _stores.pop(url, None)
        if store is not None:
            _stores[url] = store
    return previous


def _warn_if_prefork() -> None:
    server = prefork_server(sys.argv, os.environ)
    if server is not None:
        _logger.warning(
            "otel_ml: %s, and each worker keeps its own predictions for labels "
            "(OTEL_ML_FEEDBACK_STORE=memory): a label that reaches another worker counts as "
            "unknown. Share them: OTEL_ML_FEEDBACK_STORE=sqlite:///path/to/predictions.db "
            "(the workers of one host) or redis://host:6379/0 (several hosts)",
            server,
        )
