"""Memory soak: a million instrumented predictions with drift and feedback on.

The soak runs in a process of its own (``memory_soak_worker.py``: a clean
heap, settings from the environment) and reports its RSS every 50,000 calls
and the size of every bounded structure at the end. After the warm-up (the
prediction store fills at 10,000, the label caps at 50) RSS must stay flat:
less than 20 MiB of growth over the remaining 800,000 calls, where keeping
even 20 bytes per call would add 16 MB.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from otel_ml import semconv

CALLS = 1_000_000
WARM_UP_CALLS = 200_000
MAX_GROWTH_BYTES = 20 * 1024 * 1024
ENVIRONMENT = {
    "OTEL_ML_FEEDBACK_MAX_PREDICTIONS": "10000",
    "OTEL_ML_FEEDBACK_WINDOW": "500",
    "OTEL_ML_FEEDBACK_SEGMENTS": "country",
    "OTEL_ML_MAX_SEGMENT_VALUES": "20",
    "OTEL_ML_MAX_CLASS_LABELS": "50",
    "OTEL_ML_DRIFT_WINDOW_ROWS": "5000",
    "OTEL_ML_DRIFT_MIN_COUNT": "1000",
    "OTEL_ML_DRIFT_BUFFER_ROWS": "256",
}
HERE = Path(__file__).parent


def test_a_million_predictions_keep_rss_flat_and_every_buffer_at_its_bound() -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    environ.update(ENVIRONMENT)
    environ["PYTHONPATH"] = os.pathsep.join([str(HERE), str(HERE.parent)])
    done = subprocess.run(
        [sys.executable, str(HERE / "memory_soak_worker.py"), str(CALLS)],
        env=environ, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    soak = json.loads(done.stdout)

    rss = dict(soak["rss"])
    after_warm_up = [size for calls, size in rss.items() if calls >= WARM_UP_CALLS]
    growth = max(after_warm_up) - rss[WARM_UP_CALLS]
    mib = 2**20
    at_warm_up = rss[WARM_UP_CALLS] / mib
    print(f"\n{CALLS} calls, {soak['us_per_call']:.0f} us per call; RSS at warm-up "
          f"{at_warm_up:.1f} MiB, growth after it {growth / mib:.2f} MiB")  # fmt: skip
    assert growth < MAX_GROWTH_BYTES

    store = soak["store"]
    # Evicted a generation at a time: full, less at most one generation.
    assert store["capacity"] - store["generation"] <= store["live"] <= store["capacity"]
    assert store["evicted"] == store["labelled"] == store["capacity"]  # ring tables full, no more
    labels = soak["labels"]
    assert labels["admitted"] == labels["cap"] == 50
    assert labels["class_keys"] == labels["cap"] + 1
    assert len(labels["exported"]) == labels["cap"] + 1
    assert semconv.OTHER_LABEL in labels["exported"]
    assert soak["segments"] == {"country": soak["segment_cap"]}
    assert soak["quality"]["pairs"] == soak["quality"]["size"]
    drift = soak["drift"]
    assert drift["fill"] <= drift["buffer_rows"]
    assert drift["label_counts"] <= drift["buffer_rows"]
    assert drift["buffer_nbytes"][0] == drift["buffer_nbytes"][1]  # preallocated, never grown
    # A window closes once the rows binned so far (up to a buffer of 256 at a time) reach 5,000.
    assert CALLS // (5000 + 256) <= drift["windows_closed"] <= CALLS // 5000
    assert soak["tallies"]["predictions"] == labels["cap"] + 1
    observed = soak["observations"]  # the last collection's observations per instrument
    assert observed[semconv.ML_PREDICTIONS] == labels["cap"] + 1
    assert observed[semconv.ML_DRIFT_BIN_COUNT] == drift["bins"]
    assert observed[semconv.ML_FEEDBACK_PRECISION] <= labels["cap"] + 1
