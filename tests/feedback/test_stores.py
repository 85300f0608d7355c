"""The shared prediction stores in-process: a real SQLite file and a real redis-server.

What a label gets back (matched with every field, duplicate, unknown,
expired), the grace period for a prediction still buffered, exactly one
match when threads race for one label, the bounds (TTL, capacity, file
size), Redis's keys (prefix per model, TTL = retention) and a store that is
down: counted, never raised.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis_support import RedisServer
from served_process import free_port
from support import Telemetry

import otel_ml
from otel_ml.config import Settings, SettingsError
from otel_ml.feedback.store import Record, StoredPrediction
from otel_ml.feedback.stores import SharedStore
from otel_ml.feedback.stores.redis_store import RedisStore
from otel_ml.feedback.stores.sqlite import SqliteStore

KEY = 7  # a recorder key of this process


def record(store: SharedStore, label: str = "fraud", **fields: object) -> Record:
    base = StoredPrediction(store.now(), KEY, label, None, 0.9, None, None,
                            (("country", "DE"),), 0xABC, 0xDEF, 1)  # fmt: skip
    return tuple(base._replace(**fields))  # type: ignore[arg-type,return-value]


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SharedStore]:
    if request.param == "sqlite":
        opened: SharedStore = SqliteStore(f"sqlite://{tmp_path}/predictions.db", 1000, 60.0)
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        opened = RedisStore(server.url, 1000, 60.0)
    opened.bind(KEY, "fraud-model", "3")
    yield opened
    opened.close()


def test_a_label_takes_its_prediction_once_with_every_field(store: SharedStore) -> None:
    batch = record(store, row_labels=("a", "b"), row_values=None, value=None)
    store.put("p1", batch)
    store.flush()
    outcome, found = store.take("p1")
    assert outcome == "matched"
    assert found is not None
    assert found == StoredPrediction._make(batch)
    assert store.take("p1") == ("duplicate", None)
    assert store.take("never-made") == ("unknown", None)
    assert store.errors == {"write": 0, "join": 0}


def test_a_prediction_of_another_model_is_not_found(store: SharedStore) -> None:
    store.put("p1", record(store))
    store.flush()
    other = type(store)(store.url, 1000, 60.0)
    other.bind(1, "churn-model", "1")
    try:
        assert other.take("p1") == ("unknown", None)
    finally:
        other.close()
    assert store.take("p1")[0] == "matched"


def test_a_label_waits_for_a_prediction_still_in_the_buffer(store: SharedStore) -> None:
    store.put("p1", record(store))  # not flushed: the writer thread writes it within 50 ms
    assert store.take("p1", grace_until=time.monotonic() + 5)[0] == "matched"
    store.put("p2", record(store))
    store.flush()
    started = time.monotonic()
    assert store.take("p3", grace_until=started + 0.3) == ("unknown", None)
    assert 0.3 <= time.monotonic() - started < 3


def test_a_prediction_older_than_the_ttl_is_expired(store: SharedStore) -> None:
    store.put("old", record(store, created_s=store.now() - 61))
    store.flush()
    assert store.take("old") == ("expired", None)


def test_racing_labels_match_once(store: SharedStore) -> None:
    ids = [f"p{i}" for i in range(200)]
    for prediction_id in ids:
        store.put(prediction_id, record(store))
    store.flush()
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def label_all() -> None:
        for prediction_id in ids:
            outcome, _ = store.take(prediction_id)
            with lock:
                outcomes[outcome] += 1

    threads = [threading.Thread(target=label_all) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert outcomes == {"matched": 200, "duplicate": 600}


def test_sqlite_keeps_the_file_bounded(tmp_path: Path) -> None:
    path = tmp_path / "predictions.db"
    store = SqliteStore(f"sqlite://{path}", 2000, 60.0)
    store.bind(KEY, "fraud-model", "3")
    sizes = []
    try:
        for round_ in range(10):
            for i in range(5000):
                store.put(f"r{round_}-{i}", record(store, label="x" * 40))
            store.flush()
            store._maintain()
            sizes.append(path.stat().st_size + Path(f"{path}-wal").stat().st_size)
        connection = store._connection()
        (held,) = connection.execute("SELECT count(*) FROM predictions").fetchone()
        assert held == 2000
        assert store.take("r9-4999")[0] == "matched"  # the newest stay
        assert store.take("r9-0") == ("unknown", None)  # the oldest left
    finally:
        store.close()
    assert max(sizes[3:]) <= sizes[2] * 1.5, sizes  # flat, not growing per round


def test_sqlite_deletes_expired_rows(tmp_path: Path) -> None:
    store = SqliteStore(f"sqlite://{tmp_path}/p.db", 100, 60.0)
    store.bind(KEY, "fraud-model", "3")
    try:
        store.put("old", record(store, created_s=store.now() - 120))
        store.put("new", record(store))
        store.flush()
        store._maintain()
        assert store.take("old") == ("unknown", None)
        assert store.take("new")[0] == "matched"
    finally:
        store.close()


def test_redis_keys_have_a_prefix_per_model_and_the_ttl(redis_server: RedisServer) -> None:
    store = RedisStore(redis_server.url, 3, 3600.0)
    store.bind(KEY, "fraud-model", "3")
    try:
        for i in range(5):
            store.put(f"p{i}", record(store, created_s=store.now() + i))
        store.flush()
        client = store.client
        assert 3590 <= client.ttl("otel_ml:fraud-model:p:p0") <= 3600
        store._maintain()  # capacity 3: the two oldest leave
        keys = sorted(k.decode() for k in client.keys("*"))
        assert keys == ["otel_ml:fraud-model:idx"] + [
            f"otel_ml:fraud-model:p:p{i}" for i in (2, 3, 4)
        ]
        assert store.take("p4")[0] == "matched"
        assert 3590 <= client.ttl("otel_ml:fraud-model:d:p4") <= 3600
    finally:
        store.close()


@pytest.mark.parametrize("url", ["redis", "sqlite"])
def test_a_store_that_is_down_is_counted_never_raised(url: str, tmp_path: Path) -> None:
    if url == "redis":
        store: SharedStore = RedisStore(f"redis://127.0.0.1:{free_port()}/0", 100, 60.0)
    else:
        store = SqliteStore(f"sqlite://{tmp_path}/p.db", 100, 60.0)
        (tmp_path / "p.db").unlink()
        (tmp_path / "p.db").mkdir()  # the file is gone, a directory in its place
        store._reset_connections()
    store.bind(KEY, "fraud-model", "3")
    try:
        store.put("p1", record(store))
        store.flush()
        assert store.take("p1") == ("store_unavailable", None)
        assert store.take("p1") == ("store_unavailable", None)  # skipped for DOWN_S
        assert store.errors == {"write": 1, "join": 2}
    finally:
        store.close()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("sqlite://relative.db", "expected sqlite:/// and the file.s absolute path"),
        ("redis://", "expected a host and an optional database number"),
        ("redis://host:port/0", "not a Redis URL"),
        ("postgres://host/db", "expected one of memory, sqlite:///"),
    ],
)
def test_a_bad_store_url_names_the_variable_and_the_argument(value: str, expected: str) -> None:
    with pytest.raises(SettingsError, match=rf"^OTEL_ML_FEEDBACK_STORE='.*': {expected}"):
        Settings.load(environ={"OTEL_ML_FEEDBACK_STORE": value})
    with pytest.raises(SettingsError, match=rf"^feedback_store='.*': {expected}"):
        otel_ml.wrap_model(lambda row: "ok", "m", "1", feedback=True, feedback_store=value)


def test_wrap_model_joins_through_the_sqlite_store(telemetry: Telemetry, tmp_path: Path) -> None:
    store = f"sqlite://{tmp_path}/predictions.db"
    model = otel_ml.wrap_model(lambda row: "fraud", "fraud-model", "3", feedback=True,
                               feedback_store=store, **telemetry.providers)  # fmt: skip
    model({"amount": 1.0})
    prediction_id = otel_ml.last_prediction_id()
    assert prediction_id is not None
    settings = Settings.load(environ={"OTEL_ML_FEEDBACK_STORE": store})
    label = functools.partial(otel_ml.record_feedback, settings=settings, **telemetry.providers)
    assert label(prediction_id, "fraud") == "matched"  # within the grace period
    assert label(prediction_id, "fraud") == "duplicate"
    (inference,) = [s for s in telemetry.spans() if s.name == "predict fraud-model"]
    feedback = telemetry.span("feedback fraud-model")
    assert [link.context.span_id for link in feedback.links] == [inference.context.span_id]
    errors = {
        frozenset(a.items()): p.value for a, p in telemetry.points("ml.feedback.store.errors")
    }
    sqlite = {"ml.feedback.store": "sqlite"}
    assert errors == {
        frozenset({**sqlite, "ml.feedback.store.operation": "write"}.items()): 0,
        frozenset({**sqlite, "ml.feedback.store.operation": "join"}.items()): 0,
    }


def test_a_bad_store_url_does_not_show_its_password() -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.load(environ={"OTEL_ML_FEEDBACK_STORE": "redis://:s3cret@cache:port/0"})
    assert "s3cret" not in str(raised.value)
    assert "redis://:***@cache:port/0" in str(raised.value)
