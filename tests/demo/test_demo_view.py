"""The live view fits the terminal: lines are wrapped, not cut."""

from __future__ import annotations

import io
import re

import pytest

from otel_ml.demo.view import Screen

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def test_an_80_column_terminal_gets_every_word_of_a_long_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "80")  # what shutil.get_terminal_size reads first
    monkeypatch.setenv("LINES", "40")
    monkeypatch.setenv("NO_COLOR", "1")
    words = [f"word{i}" for i in range(40)]
    long = "requests    " + " ".join(words)
    out = io.StringIO()
    Screen(out, live=True).draw([long, "drift       ok"])
    shown = [line for line in ANSI.sub("", out.getvalue()).split("\n") if line]
    assert all(len(line) <= 79 for line in shown)
    assert " ".join(shown).split() == ["requests", *words, "drift", "ok"]
    assert all(line.startswith(" " * 12) for line in shown[1:-1])  # under the label's text
