"""Which span an answer belongs to, and what was retrieved for it.

:class:`AnswerIndex` maps a chat call's ``gen_ai.response.id`` (and the
prediction id of the HTTP request it ran in) to its span context, so feedback
posted later, and judge results computed later, link to that span. It is
bounded (oldest out first) and entries expire, like the prediction store.
:class:`PassageIndex` keeps the texts a retrieval returned, per trace, while
online evaluation wants them (groundedness needs them); it is empty otherwise.
Both live in this process only.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry.trace import SpanContext

MAX_PASSAGES = 8
MAX_PASSAGE_CHARS = 2000
MAX_TRACES = 1000


@dataclass(frozen=True, slots=True)
class Answer:
    """The span of one LLM answer and the bounded identity its scores are recorded under."""

    span_context: SpanContext
    request_model: str | None
    provider: str
    response_id: str | None = None
    response_model: str | None = None
    operation: str = "chat"


class AnswerIndex:
    """A bounded, expiring map of response ids / prediction ids to :class:`Answer`."""

    def __init__(self, max_items: int, ttl_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.max_items = max_items
        self.ttl_s = ttl_s
        self._clock = clock
        self._items: OrderedDict[str, tuple[float, Answer]] = OrderedDict()
        self._lock = threading.Lock()  # held for a dict operation, never across user code

    def remember(self, keys: Iterable[str], answer: Answer) -> None:
        """Keep ``answer`` under each key (the newest wins a key)."""
        now = self._clock()
        with self._lock:
            for key in keys:
                self._items[key] = (now, answer)
                self._items.move_to_end(key)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)

    def find(self, key: str) -> Answer | None:
        """The answer kept under ``key``, unless unknown or older than the TTL."""
        with self._lock:
            found = self._items.get(key)
        if found is None or self._clock() - found[0] > self.ttl_s:
            return None
        return found[1]

    def __len__(self) -> int:
        return len(self._items)


class PassageIndex:
    """Retrieved passage texts per trace id, while :attr:`wanted` (online evaluation on)."""

    def __init__(self, max_traces: int = MAX_TRACES) -> None:
        self.wanted = False
        self._max = max_traces
        self._items: OrderedDict[int, list[str]] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, trace_id: int, documents: Iterable[Any]) -> None:
        """Keep the texts of ``documents`` (at most :data:`MAX_PASSAGES`, cut) for the trace."""
        texts = [t[:MAX_PASSAGE_CHARS] for t in map(passage_text, documents) if t][:MAX_PASSAGES]
        if not texts:
            return
        with self._lock:
            kept = self._items.setdefault(trace_id, [])
            kept.extend(texts[: MAX_PASSAGES - len(kept)])
            self._items.move_to_end(trace_id)
            while len(self._items) > self._max:
                self._items.popitem(last=False)

    def get(self, trace_id: int) -> tuple[str, ...]:
        """The passages retrieved in the trace so far (empty when none)."""
        with self._lock:
            return tuple(self._items.get(trace_id, ()))


def passage_text(document: Any) -> str | None:
    """The text of a retrieved document: a string, a LangChain ``Document``
    (``page_content``), a LlamaIndex node or ``NodeWithScore`` (``text``,
    ``get_content()``), a mapping with ``text``/``content``/``page_content``,
    or the first item of a ``(document, score)`` pair."""
    if isinstance(document, tuple) and len(document) == 2:
        document = document[0]
    if isinstance(document, str):
        return document
    if isinstance(document, Mapping):
        for key in ("text", "content", "page_content"):
            if isinstance(document.get(key), str):
                return str(document[key])
        return None
    for attribute in ("page_content", "text"):
        value = getattr(document, attribute, None)
        if isinstance(value, str):
            return value
    node = getattr(document, "node", None)
    getter = getattr(node if node is not None else document, "get_content", None)
    if callable(getter):
        value = getter()
        return value if isinstance(value, str) else None
    return None
