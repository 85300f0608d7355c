"""The drift page: its JSON document, the HTML rendered from it, the window snapshot."""

from __future__ import annotations

import json
import threading

import numpy as np
import pandas as pd
import pytest
from drift_page_support import parse_page

from otel_ml.drift.profile import ReferenceProfile
from otel_ml.drift.results import WindowConfig, WindowReport
from otel_ml.drift.statistics import psi
from otel_ml.drift.window import DriftWindow
from otel_ml.report.chart import bin_display
from otel_ml.report.data import model_section, page_document
from otel_ml.report.page import render_page

RNG = np.random.default_rng(3)
HOSTILE_FEATURE = '<b onmouseover="steal()">amount</b>'
HOSTILE_CATEGORY = "</svg><script>alert('x')</script>"
TRAIN = pd.DataFrame({
    HOSTILE_FEATURE: RNG.lognormal(3, 1, 4000),
    "age": RNG.normal(40, 10, 4000),
    "channel": RNG.choice(["web", HOSTILE_CATEGORY, "a&b \"quoted\""], 4000, p=[0.5, 0.3, 0.2]),
})  # fmt: skip
CONFIG = WindowConfig(max_rows=1000, min_count=200, buffer_rows=64)


@pytest.fixture(scope="module")
def profile() -> ReferenceProfile:
    scores = RNG.uniform(0.4, 1.0, len(TRAIN))
    predictions = np.where(TRAIN["age"] > 40, "old", "young")
    return ReferenceProfile.fit(
        TRAIN, scores=scores, predictions=predictions, metadata={"source": "<i>train</i>"}
    )


def closed_window(profile: ReferenceProfile, rows: pd.DataFrame) -> WindowReport:
    """One window holding ``rows`` (and outputs), scored."""
    window = DriftWindow(profile, CONFIG, clock=lambda: 0.0)
    numeric = rows[[HOSTILE_FEATURE, "age"]].to_numpy(np.float64)
    categorical = rows[["channel"]].to_numpy(object)
    window.add_rows(numeric, categorical)
    window.add_outputs(RNG.uniform(0.4, 1.0, len(rows)), [("old", 300), ("young", 200)])
    report = window.tick(force=True)
    assert report is not None
    return report


def drifted_rows(n: int = 600) -> pd.DataFrame:
    rows = TRAIN.iloc[:n].copy()
    rows["age"] += 8.0
    rows["channel"] = HOSTILE_CATEGORY
    return rows


def test_every_name_from_data_is_escaped(profile: ReferenceProfile) -> None:
    report = closed_window(profile, drifted_rows())
    doc = page_document(
        "<Page & title>", [model_section("<model>", "1&2", profile, CONFIG, report)]
    )
    page = render_page(doc)

    for raw in (HOSTILE_FEATURE, HOSTILE_CATEGORY, "<i>train</i>", "<model>", "<Page & title>"):
        assert raw not in page
    assert "<script" not in page and "onmouseover=" not in page.replace("onmouseover=&quot;", "")
    parsed = parse_page(page)
    assert set(parsed.tags) <= {
        "html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "h3", "h4", "p",
        "span", "section", "div", "dl", "dt", "dd", "article", "svg", "g", "text", "rect",
        "line", "table", "tr", "th", "td", "ul", "li",
    }  # fmt: skip
    shown = "".join(parsed.text)
    # Decoded, the names read as they were given: escaped, not dropped.
    assert HOSTILE_FEATURE in {card["name"] for card in parsed.cards}
    assert "<i>train</i>" in shown and "<model>" in shown
    assert HOSTILE_CATEGORY[:10] in shown  # chart labels are shortened
    assert f"{HOSTILE_CATEGORY}: reference" in shown  # the tooltip has it whole
    # The JSON twin keeps the raw strings: JSON escaping is the reader's job.
    assert json.loads(json.dumps(doc))["models"][0]["features"][0]["name"] == HOSTILE_FEATURE


def test_one_chart_per_feature_with_a_bar_pair_per_bin(profile: ReferenceProfile) -> None:
    report = closed_window(profile, drifted_rows())
    section = model_section("fraud", "1", profile, CONFIG, report)
    parsed = parse_page(render_page(page_document("Drift", [section])))

    by_name = {card["name"]: card for card in parsed.cards}
    assert set(by_name) == {HOSTILE_FEATURE, "age", "channel", "__score__", "__prediction__"}
    for feature in section["features"]:
        card = by_name[feature["name"]]
        assert card["svg"] == 1
        assert card["ref"] == card["cur"] == len(feature["bins"])
    assert len(by_name["age"]["tds"]) == 5  # PSI, KS, JS, chi2, p
    assert by_name["channel"]["tds"][1] == "\u2014"  # no KS for categories
    # 300 "old" of 500 predictions against half in the reference: drift too.
    counts = {"drift": 3, "warn": 0, "ok": 2, "too_small": 0, "not_scored": 0}
    assert section["verdicts"] == counts
    # Drifted features come first.
    assert [c["name"] for c in parsed.cards[:2]] == ["age", "channel"]


def test_the_json_twin_has_the_numbers_the_page_shows(profile: ReferenceProfile) -> None:
    report = closed_window(profile, drifted_rows())
    doc = page_document("Drift", [model_section("fraud", "1", profile, CONFIG, report)])
    twin = json.loads(json.dumps(doc, allow_nan=False))
    parsed = parse_page(render_page(doc))

    cards = {card["name"]: card for card in parsed.cards}
    windows = {f.name: f for f in report.features}
    for feature in twin["models"][0]["features"]:
        last = feature["last_window"]
        scores = last["scores"]
        expected = windows[feature["name"]]
        assert expected.scores is not None
        # The document carries the window's own scores and counts...
        assert scores["psi"] == expected.scores.psi and scores["js"] == expected.scores.js
        assert last["counts"] == expected.coarse_counts.tolist()
        assert last["n"] == expected.n == sum(last["counts"])
        assert scores["psi"] == pytest.approx(psi(feature["reference"], last["counts"]))
        # ...and the page prints them.
        shown = [
            f"{scores['psi']:.3f}",
            "\u2014" if scores["ks"] is None else f"{scores['ks']:.3f}",
            f"{scores['js']:.3f}",
            f"{scores['chi2']:.1f}",
            f"{scores['chi2_p']:.2g}",
        ]
        assert cards[feature["name"]]["tds"] == shown
        assert last["verdict"] == expected.verdict
    assert twin["models"][0]["last_window"] == {"index": 0, "rows": 600, "duration_s": 0.0}


def test_a_monitor_without_a_closed_window_shows_the_open_one_unscored(
    profile: ReferenceProfile,
) -> None:
    window = DriftWindow(profile, CONFIG)
    window.add_rows(
        TRAIN[[HOSTILE_FEATURE, "age"]].to_numpy()[:40], TRAIN[["channel"]].to_numpy()[:40]
    )
    section = model_section("fraud", "1", profile, CONFIG, None, window.snapshot())
    parsed = parse_page(render_page(page_document("Drift", [section])))

    assert section["last_window"] is None
    assert section["open_window"]["rows"] == 40
    assert section["verdicts"]["not_scored"] == 5
    shown = "".join(parsed.text)
    assert "none closed yet" in shown and "open window, not scored yet" in shown
    cards = {card["name"]: card for card in parsed.cards}
    assert cards["age"]["cur"] == cards["age"]["ref"] > 0  # the open window's bars
    assert cards["__score__"]["cur"] == 0  # no outputs yet: reference bars only


def test_a_page_without_models_shows_its_note() -> None:
    page = render_page(page_document("Drift", [], note="No drift monitor <here>"))
    assert "No drift monitor &lt;here&gt;" in page
    assert parse_page(page).cards == []


def test_snapshot_counts_everything_and_closes_nothing(profile: ReferenceProfile) -> None:
    window = DriftWindow(profile, CONFIG)
    numeric = TRAIN[[HOSTILE_FEATURE, "age"]].to_numpy(np.float64)
    categorical = TRAIN[["channel"]].to_numpy(object)
    window.add_rows(numeric[:100], categorical[:100])  # binned up to 64, the rest buffered
    window.add_outputs(np.full(7, 0.9), [("old", 7)])

    snapshot = window.snapshot()
    assert (snapshot.index, snapshot.rows) == (0, 100)
    by_name = {f.name: f for f in snapshot.features}
    assert all(f.scores is None and f.verdict is None for f in snapshot.features)
    assert by_name["age"].n == by_name["channel"].n == 100
    assert by_name["__score__"].n == by_name["__prediction__"].n == 7

    window.add_rows(numeric[100:300], categorical[100:300])
    report = window.tick(force=True)
    assert report is not None and (report.index, report.rows) == (0, 300)
    assert {f.name: f.n for f in report.features}["age"] == 300


def test_snapshots_while_requests_add_rows_lose_and_double_nothing(
    profile: ReferenceProfile,
) -> None:
    window = DriftWindow(profile, WindowConfig(max_rows=100_000, min_count=10, buffer_rows=64))
    numeric = TRAIN[[HOSTILE_FEATURE, "age"]].to_numpy(np.float64)[:10]
    categorical = TRAIN[["channel"]].to_numpy(object)[:10]

    def requests() -> None:
        for _ in range(300):
            window.add_rows(numeric, categorical)

    threads = [threading.Thread(target=requests) for _ in range(4)]
    for thread in threads:
        thread.start()
    seen = []
    for _ in range(200):  # bounded: snapshots while the threads run
        seen.append(window.snapshot().rows)
        if not any(t.is_alive() for t in threads):
            break
    for thread in threads:
        thread.join(timeout=30)

    assert seen == sorted(seen)  # rows only grow within the open window
    report = window.tick(force=True)
    assert report is not None and report.rows == 4 * 300 * 10
    assert all(f.n == 12_000 for f in report.features if f.name in ("age", "channel"))


def test_bin_labels_read_as_ranges() -> None:
    assert bin_display("lt:1.5") == "< 1.5"
    assert bin_display("ge:-3") == "\u2265 -3"
    assert bin_display("-2.5..1e-05") == "-2.5 \u2013 1e-05"
    assert bin_display("a..b") == "a..b"  # a category that looks like a range stays
    assert bin_display("__other__") == "__other__"
