"""The drift page of a real served model, rendered by headless Chromium.

A FastAPI app serving a scikit-learn pipeline is instrumented with a reference
profile and ``drift_page=``, served by uvicorn on 127.0.0.1 and sent drifted
traffic that fills a window. Chromium loads the page; the test checks the
rendered charts, that the page logged no console error, exception or failed
load, and saves a full-page screenshot to ``test-artifacts/drift-page.png``.
Skipped only outside CI when Chromium is not installed.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from chromium_support import Chromium, find_chromium
from drift_page_support import MODEL, PETAL, VERSION, model_app, traffic, trained
from support import Telemetry

import otel_ml
from otel_ml.demo.server import serve

SCREENSHOT = Path(__file__).resolve().parents[2] / "test-artifacts" / "drift-page.png"
PAGE = "/ml/drift"
WIDTH = 1280

_RENDERED = """({
  title: document.title,
  scripts: document.scripts.length,
  overflowsX: document.documentElement.scrollWidth > window.innerWidth,
  cards: [...document.querySelectorAll("article.feature")].map(card => {
    const chart = card.querySelector("svg.chart").getBoundingClientRect();
    return {
      name: card.querySelector("h4").textContent,
      badge: card.querySelector(".badge").textContent,
      charts: card.querySelectorAll("svg").length,
      ref: card.querySelectorAll("rect.ref").length,
      cur: card.querySelectorAll("rect.cur").length,
      chartWidth: chart.width,
      chartHeight: chart.height,
    };
  }),
})"""


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


@pytest.fixture(scope="module")
def chromium() -> str:
    found = find_chromium()
    if found is None:
        reason = "headless Chromium is not installed (Debian: apt-get install chromium)"
        if _in_ci():
            pytest.fail(reason)
        pytest.skip(reason)
    return found


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (after checking the signature)."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", "not a PNG"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def test_drift_page_renders_its_charts_in_chromium(
    telemetry: Telemetry, chromium: str, tmp_path: Path
) -> None:
    _, profile = trained()
    app = model_app(telemetry.providers)
    handle = otel_ml.instrument(
        app, MODEL, VERSION, **telemetry.providers, instrument_sklearn=False,
        reference=profile, drift_page=PAGE,
    )  # fmt: skip
    try:
        with serve(app) as base, httpx.Client(base_url=base, timeout=10) as client:
            for batch in traffic(11, 100, drifted=True):
                assert client.post("/predict", json=batch).status_code == 200
            telemetry.metrics()  # a collection scores the window closed at 1000 rows
            twin = client.get(PAGE, params={"format": "json"}).json()
            with Chromium(chromium, tmp_path / "chromium") as browser:
                page = browser.open_page(f"{base}{PAGE}", width=WIDTH)
                rendered: dict[str, Any] = browser.evaluate(page, _RENDERED)
                SCREENSHOT.parent.mkdir(exist_ok=True)
                browser.screenshot(page, SCREENSHOT)
                problems = browser.problems(page)
                # The same checks catch a page that has problems.
                bad = "<img src='/missing.png'><script>console.error('control');nope()</script>"
                control = browser.open_page(f"data:text/html,{quote(bad)}")
                control_problems = browser.problems(control)
    finally:
        handle.uninstrument()

    assert problems == []
    assert any("console.error: control" in p for p in control_problems), control_problems
    assert any("exception" in p for p in control_problems), control_problems

    [model] = twin["models"]
    assert rendered["title"] == f"Drift: {MODEL}"
    assert rendered["scripts"] == 0 and not rendered["overflowsX"]
    cards = {card["name"]: card for card in rendered["cards"]}
    assert set(cards) == {f["name"] for f in model["features"]}
    for feature in model["features"]:
        card = cards[feature["name"]]
        assert card["charts"] == 1
        assert card["ref"] == card["cur"] == len(feature["bins"])
        assert card["chartWidth"] > 300 and card["chartHeight"] > 50
        assert card["badge"] == feature["last_window"]["verdict"]
    assert cards[PETAL]["badge"] == "drift"

    width, height = png_size(SCREENSHOT)
    assert WIDTH - 20 <= width <= WIDTH and height > 900  # the page below the fold too
    assert SCREENSHOT.stat().st_size > 50_000  # charts and text, not a blank page
