"""The demo's traffic, in three phases: predictions, delayed labels, RAG questions.

Threads with their own HTTP clients, paced, each loop bounded by the schedule's
end and a stop event:

- two predictors send ``POST /predict`` (mostly single rows, every fifth
  request a batch of 16; every 200th request carries a NaN, which the model
  rejects: the demo's error rate);
- a labeller posts the ground truth of earlier predictions to ``/feedback``;
- an asker sends a question to ``POST /ask`` about once a second and rates the
  answer (thumbs up, or down for one in four) on ``/feedback``.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np

from otel_ml.demo.costs import tenant_headers
from otel_ml.demo.documents import DOCUMENTS
from otel_ml.demo.model import NEW_SITE, SHIFT_FACTOR, SHIFTED_FEATURE, DemoModel, broken, drifted

PREDICT_RATE = 100.0  # requests per second, both predictors together
BATCH_EVERY, BATCH_ROWS = 5, 16
ERROR_EVERY = 200  # 0.5%: under the slow burn-rate threshold (6 x 0.1%)
DRIFTED_SHARE = 0.9  # of the rows after the drift starts
LABEL_DELAY_S = 1.0
ASK_INTERVAL_S = 1.0
MAX_LABELS_PER_POST = 1000  # OTEL_ML_FEEDBACK_MAX_ITEMS
MAX_PENDING_LABELS = 50_000
PREDICTION_ID_HEADER = "x-prediction-id"
_JSON = {"content-type": "application/json"}


@dataclass(frozen=True)
class Phase:
    """One phase of the traffic: its name, its share of the run, what happens."""

    name: str
    share: float
    summary: str


PHASES = (
    Phase("normal", 0.35, "traffic like the training data; labels arrive 1 s after each answer"),
    Phase(
        "drift",
        0.30,
        f"new site {NEW_SITE!r} (unseen category) reads {SHIFTED_FEATURE!r} "
        f"x{SHIFT_FACTOR:g}; labels come later",
    ),
    Phase("labels", 0.35, "the late labels of the drifted rows arrive: accuracy drops"),
)


class Schedule:
    """Where the run is: phase boundaries over ``duration_s`` from ``started``."""

    def __init__(self, duration_s: float, started: float) -> None:
        self.duration_s = duration_s
        self.started = started
        shares = itertools.accumulate(p.share for p in PHASES)
        self.ends = [started + duration_s * s for s in shares]

    @property
    def end(self) -> float:
        """When the traffic stops (monotonic seconds)."""
        return self.started + self.duration_s

    def phase(self, now: float) -> int:
        """Index in :data:`PHASES` of the phase at ``now``."""
        return next((i for i, end in enumerate(self.ends) if now < end), len(PHASES) - 1)


@dataclass
class TrafficStats:
    """What the traffic threads sent and got back (read by the view)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: Counter[int] = field(default_factory=Counter)
    rows: int = 0
    bad_rows_sent: int = 0
    labels_sent: int = 0
    labels_matched: int = 0
    questions: Counter[int] = field(default_factory=Counter)
    answers_rated: int = 0
    transport_errors: int = 0

    def add(self, **counts: int) -> None:
        """Add to the integer fields named."""
        with self.lock:
            for name, count in counts.items():
                setattr(self, name, getattr(self, name) + count)


class LabelBook:
    """Labels waiting for their time: due after a delay, or held until the labels phase."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._due: deque[tuple[float, dict[str, Any]]] = deque(maxlen=MAX_PENDING_LABELS)
        self._held: deque[dict[str, Any]] = deque(maxlen=MAX_PENDING_LABELS)

    def add(self, prediction_id: str, actual: Any, due: float, hold: bool) -> None:
        """Remember a prediction's ground truth."""
        item = {"prediction_id": prediction_id, "actual": actual}
        with self._lock:
            if hold:
                self._held.append(item)
            else:
                self._due.append((due, item))

    def take(self, now: float, release_held: bool) -> list[dict[str, Any]]:
        """Labels to post now (at most one request's worth)."""
        out: list[dict[str, Any]] = []
        with self._lock:
            while release_held and self._held and len(out) < MAX_LABELS_PER_POST:
                out.append(self._held.popleft())
            while self._due and self._due[0][0] <= now and len(out) < MAX_LABELS_PER_POST:
                out.append(self._due.popleft()[1])
        return out


QUESTIONS = tuple(f"What should I know about {d.title.lower()}?" for d in DOCUMENTS)


class Traffic:
    """Starts the traffic threads; :meth:`join` waits for them after the stop event."""

    def __init__(
        self,
        base_url: str,
        demo: DemoModel,
        schedule: Schedule,
        stop: threading.Event,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url
        self.demo = demo
        self.schedule = schedule
        self.stop = stop
        self.clock = clock
        self.stats = TrafficStats()
        self.labels = LabelBook()
        self._sequence = itertools.count()
        # Joined on every normal exit; daemon only so that an aborted run cannot hang.
        self._threads = [
            threading.Thread(target=self._predictor, args=(i,), name=f"demo-predictor-{i}",
                             daemon=True)
            for i in range(2)
        ]  # fmt: skip
        self._threads += [
            threading.Thread(target=self._labeller, name="demo-labeller", daemon=True),
            threading.Thread(target=self._asker, name="demo-asker", daemon=True),
        ]

    def start(self) -> None:
        """Start every traffic thread."""
        for thread in self._threads:
            thread.start()

    def join(self, timeout_s: float = 15.0) -> None:
        """Wait for the threads (they end at the schedule's end or on the stop event)."""
        deadline = self.clock() + timeout_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - self.clock()))

    def _running(self) -> bool:
        return not self.stop.is_set() and self.clock() < self.schedule.end

    def _paced(self, interval_s: float) -> Iterator[None]:
        """Yields once per ``interval_s`` until the run ends."""
        next_at = self.clock()
        while self._running():
            yield
            next_at += interval_s
            self.stop.wait(max(0.0, next_at - self.clock()))

    def _predictor(self, worker: int) -> None:
        rng = np.random.default_rng(worker)
        with httpx.Client(base_url=self.base_url, timeout=10.0) as client:
            for _ in self._paced(2 / PREDICT_RATE):
                self._predict_once(client, rng)

    def _predict_once(self, client: httpx.Client, rng: np.random.Generator) -> None:
        n = next(self._sequence)
        phase = self.schedule.phase(self.clock())
        picks = rng.integers(0, len(self.demo.rows), BATCH_ROWS if n % BATCH_EVERY == 4 else 1)
        shifted = rng.random(len(picks)) < (DRIFTED_SHARE if phase > 0 else 0.0)
        pool = self.demo.rows
        rows = [drifted(pool[i]) if s else pool[i] for i, s in zip(picks, shifted, strict=True)]
        bad = n % ERROR_EVERY == ERROR_EVERY - 1
        if bad:
            rows[0] = broken(rows[0])
        try:
            # Python's json writes NaN as a bare token, as careless clients do.
            body = json.dumps({"rows": rows}).encode()
            response = client.post("/predict", content=body, headers=_JSON)
        except httpx.HTTPError:
            self.stats.add(transport_errors=1)
            return
        self.stats.add(rows=len(rows), bad_rows_sent=int(bad))
        with self.stats.lock:
            self.stats.requests[response.status_code] += 1
        prediction_id = response.headers.get(PREDICTION_ID_HEADER)
        if response.status_code != 200 or prediction_id is None:
            return
        truth = [self.demo.labels[i] for i in picks]
        # The drifted site's labels take longer: they arrive in the labels phase.
        self.labels.add(
            prediction_id,
            truth[0] if len(truth) == 1 else truth,
            due=self.clock() + LABEL_DELAY_S,
            hold=phase == 1 and bool(shifted.any()),
        )

    def _labeller(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=10.0) as client:
            for _ in self._paced(0.25):
                release = self.schedule.phase(self.clock()) == 2
                batch = self.labels.take(self.clock(), release)
                if not batch:
                    continue
                try:
                    response = client.post("/feedback", json=batch)
                    matched = int(response.json().get("matched", 0)) if response.is_success else 0
                except (httpx.HTTPError, ValueError):
                    self.stats.add(transport_errors=1)
                    continue
                self.stats.add(labels_sent=len(batch), labels_matched=matched)

    def _asker(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=10.0) as client:
            for n, _ in enumerate(self._paced(ASK_INTERVAL_S)):
                question = QUESTIONS[(n * 7) % len(QUESTIONS)]
                try:
                    response = client.post(
                        "/ask", json={"question": question}, headers=tenant_headers(n)
                    )
                except httpx.HTTPError:
                    self.stats.add(transport_errors=1)
                    continue
                with self.stats.lock:
                    self.stats.questions[response.status_code] += 1
                answered = response.headers.get("x-prediction-id")
                if answered:
                    self._rate_answer(client, answered, n)

    def _rate_answer(self, client: httpx.Client, prediction_id: str, n: int) -> None:
        """A user's thumbs on the answer: down for one in four."""
        thumbs = "down" if n % 4 == 3 else "up"
        try:
            client.post("/feedback", json={"prediction_id": prediction_id, "thumbs": thumbs})
        except httpx.HTTPError:
            self.stats.add(transport_errors=1)
            return
        self.stats.add(answers_rated=1)


def warm_up(base_url: str, demo: DemoModel) -> None:
    """One request per route before the clock starts, so first-call imports and
    caches do not eat into the first phase."""
    with httpx.Client(base_url=base_url, timeout=10.0) as client:
        client.get("/healthz").raise_for_status()
        client.post("/predict", json={"rows": demo.rows[:1]}).raise_for_status()
        client.post("/ask", json={"question": QUESTIONS[0]}).raise_for_status()
