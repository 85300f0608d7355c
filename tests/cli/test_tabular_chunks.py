"""CSV reading chunk by chunk: the same values whatever the chunk size, and progress."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest

from otel_ml.cli.progress import reading
from otel_ml.cli.tabular import read_csv, read_table

ROWS = ["1.50", "2", "", " ", "-3e2", "nan", "7"]


def _write(path: Path, columns: dict[str, list[str]]) -> Path:
    names = list(columns)
    lines = [",".join(names)]
    lines += [",".join(row) for row in zip(*columns.values(), strict=True)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("chunk_rows", [1, 2, 3, 1000])
def test_values_do_not_depend_on_the_chunk_size(tmp_path: Path, chunk_rows: int) -> None:
    late_text = [*ROWS, "seven"]  # numbers for several chunks, then a word
    path = _write(
        tmp_path / "data.csv",
        {
            "number": [*ROWS, "8"],
            "late_text": late_text,
            "zip": ["02134", "1", "2", "3", "4", "5", "6", "7"],
            "underscored": ["1", "2", "3", "4", "5", "6", "7", "1_000"],
        },
    )
    table = read_csv(path, text_columns={"zip"}, chunk_rows=chunk_rows)
    number = table.column("number")
    assert number.dtype == np.float64
    assert number[:2].tolist() == [1.5, 2.0] and number[4] == -300.0 and number[7] == 8.0
    assert math.isnan(number[2]) and math.isnan(number[3]) and math.isnan(number[5])
    # Turned text in the last chunk: earlier chunks give back their cells as written.
    expected = ["1.50", "2", None, None, "-3e2", "nan", "7", "seven"]
    assert table.column("late_text").tolist() == expected
    assert table.column("zip").tolist()[:2] == ["02134", "1"]
    assert table.column("underscored").tolist()[-1] == "1_000"


def test_progress_reports_bytes_read_up_to_the_file_size(tmp_path: Path) -> None:
    path = _write(tmp_path / "data.csv", {"x": [str(i) for i in range(10_000)]})
    seen: list[tuple[int, int]] = []
    table = read_table(path, progress=lambda done, total: seen.append((done, total)))
    assert table.n_rows == 10_000
    assert len(seen) > 1
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert seen[-1] == (path.stat().st_size, path.stat().st_size)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_line_is_drawn_on_a_terminal_for_a_big_file_and_erased(
    tmp_path: Path,
) -> None:
    big = tmp_path / "big.csv"
    big.write_text("x\n" + "123456789\n" * 1_000_000, encoding="utf-8")  # 10 MB
    terminal = _Terminal()
    with reading(big, terminal) as progress:
        assert progress is not None
        read_table(big, progress=progress)
    drawn = terminal.getvalue()
    assert drawn.startswith("\rreading big.csv:") and "% of 10 MB" in drawn
    assert drawn.endswith("\r") and drawn.rstrip("\r ").endswith("MB")
    with reading(big, io.StringIO()) as progress:  # a pipe or a log: no line
        assert progress is None
    small = _write(tmp_path / "small.csv", {"x": ["1"]})
    with reading(small, _Terminal()) as progress:
        assert progress is None
