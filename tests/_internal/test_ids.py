"""Prediction ids cannot be predicted from the ids a client has seen.

The attack the ids were open to: ``random.getrandbits`` (a Mersenne Twister)
gives away its whole state in 624 consecutive 32-bit outputs, i.e. 156 ids;
untempering them rebuilds the generator and yields every later id. The test
runs that attack for real: it predicts ids of the old scheme exactly, and
none of otel_ml's.
"""

from __future__ import annotations

import os
import random
import warnings

import numpy as np
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry.trace import NoOpTracerProvider
from sklearn.linear_model import LogisticRegression
from support import Telemetry

import otel_ml
from otel_ml._internal.ids import new_prediction_id

WORDS = 624  # the Mersenne Twister's state, in 32-bit outputs
MASK = 0xFFFFFFFF


def _undo_right(value: int, shift: int) -> int:
    result = value
    for _ in range(32 // shift + 1):
        result = value ^ (result >> shift)
    return result


def _undo_left(value: int, shift: int, mask: int) -> int:
    result = value
    for _ in range(32 // shift + 1):
        result = value ^ ((result << shift) & mask & MASK)
    return result


def _untemper(output: int) -> int:
    """The state word behind one 32-bit output (MT19937's tempering, inverted)."""
    word = _undo_right(output, 18)
    word = _undo_left(word, 15, 0xEFC60000)
    word = _undo_left(word, 7, 0x9D2C5680)
    return _undo_right(word, 11)


def _words(prediction_id: str) -> list[int]:
    """The four outputs behind ``getrandbits(128).to_bytes(16, "big")``, first drawn first."""
    value = int(prediction_id, 16)
    return [(value >> (32 * k)) & MASK for k in range(4)]


def _predict_next(seen: list[str], count: int) -> list[str]:
    """The ``count`` ids after ``seen`` (156 ids), if a Mersenne Twister made them."""
    outputs = [word for prediction_id in seen for word in _words(prediction_id)][:WORDS]
    rebuilt = random.Random()
    rebuilt.setstate((3, (*(_untemper(o) for o in outputs), WORDS), None))
    return [rebuilt.getrandbits(128).to_bytes(16, "big").hex() for _ in range(count)]


def test_the_attack_predicts_mersenne_twister_ids_exactly() -> None:
    """The check below means something: this attack breaks the former ids."""
    generator = random.Random(20261204)
    former = [generator.getrandbits(128).to_bytes(16, "big").hex() for _ in range(206)]
    assert _predict_next(former[:156], 50) == former[156:]


def test_prediction_ids_are_not_predictable_from_the_ids_seen() -> None:
    ids = [new_prediction_id() for _ in range(156 + 50)]
    assert not set(_predict_next(ids[:156], 50)) & set(ids[156:])
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 32 and int(i, 16) >= 0 and i == i.lower() for i in ids)


def test_ids_a_client_collects_from_responses_do_not_predict_the_next(
    telemetry: Telemetry,
) -> None:
    """Through the app: 156 responses' ``x-prediction-id``, then 50 more. Traces off
    (the reported case): nothing but the ids draws random numbers per request."""
    rows = np.random.default_rng(0).normal(size=(20, 2))
    providers = {
        "tracer_provider": NoOpTracerProvider(),
        "meter_provider": telemetry.meter_provider,
    }
    model = otel_ml.wrap_model(LogisticRegression().fit(rows, rows[:, 0] > 0), "ids", **providers)
    app = FastAPI()

    @app.post("/predict")
    def predict() -> dict[str, bool]:
        return {"label": bool(model.predict(rows[:1])[0])}

    handle = otel_ml.instrument(app, "ids", instrument_sklearn=False, **providers)
    try:
        with TestClient(app) as client:
            ids = [client.post("/predict").headers["x-prediction-id"] for _ in range(206)]
    finally:
        handle.uninstrument()
    assert not set(_predict_next(ids[:156], 50)) & set(ids[156:])


def test_a_forked_child_does_not_reuse_its_parents_ids() -> None:
    new_prediction_id()  # the parent holds a batch of drawn, unused ids
    read, write = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read)
        os.write(write, "".join(new_prediction_id() for _ in range(4)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        child = pipe.read().decode()
    os.waitpid(pid, 0)
    parent = "".join(new_prediction_id() for _ in range(4))
    assert len(child) == len(parent) == 128
    assert child != parent
