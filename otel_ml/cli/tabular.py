"""Reading training data from CSV or Parquet files into named 1-D columns.

CSV is read with the standard library: the first row names the columns, an
empty cell is a missing value, and a column whose every non-empty cell is a
number becomes a float64 array (NaN where missing); any other column keeps its
text (None where missing). Parquet needs the optional ``pyarrow`` package.
"""

from __future__ import annotations

import csv
import importlib
import io
import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt

TableFormat = Literal["csv", "parquet"]
FORMATS: Final[tuple[TableFormat, ...]] = ("csv", "parquet")
_EXTENSIONS: Final[dict[str, TableFormat]] = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}


class TableError(ValueError):
    """The file cannot be read as a table; the message is meant for the user."""


@dataclass(frozen=True, eq=False)
class Table:
    """Columns of equal length, by name, in file order."""

    names: tuple[str, ...]
    columns: tuple[npt.NDArray[Any], ...]

    @property
    def n_rows(self) -> int:
        """Number of data rows."""
        return len(self.columns[0]) if self.columns else 0

    def column(self, name: str) -> npt.NDArray[Any]:
        """The column called ``name`` (KeyError if there is none)."""
        try:
            return self.columns[self.names.index(name)]
        except ValueError:
            raise KeyError(name) from None

    def take(self, rows: npt.NDArray[np.intp]) -> Table:
        """A table of the given rows, in that order."""
        return Table(self.names, tuple(col[rows] for col in self.columns))


def even_sample(n_rows: int, max_rows: int | None) -> npt.NDArray[np.intp] | None:
    """Indices of ``max_rows`` rows spread evenly over ``n_rows``, or None to keep all."""
    if max_rows is None or n_rows <= max_rows:
        return None
    return (np.arange(max_rows, dtype=np.int64) * n_rows // max_rows).astype(np.intp)


def detect_format(path: Path, override: str | None = None) -> TableFormat:
    """The format named by ``override``, else the one the file extension implies."""
    if override is not None:
        if override not in FORMATS:
            raise TableError(f"unknown format {override!r}; expected one of {', '.join(FORMATS)}")
        return "csv" if override == "csv" else "parquet"
    found = _EXTENSIONS.get(path.suffix.lower())
    if found is None:
        raise TableError(
            f"cannot tell the format of {path} from its extension "
            f"(known: {', '.join(_EXTENSIONS)}); pass --format csv or --format parquet"
        )
    return found


Progress = Callable[[int, int], None]
"""Called as bytes of the file are read: ``(bytes read so far, file size)``."""

# Small enough that the rows of one chunk (lists the garbage collector scans)
# do not make collection passes costly: 65,536 took twice the CPU of 2,048.
_CHUNK_ROWS = 2_048
# csv refuses NUL in a line, so it cannot occur in a cell: a safe separator for
# keeping a chunk's cells as one string until the column's kind is settled.
_SEPARATOR = "\0"


def read_table(
    path: str | Path,
    file_format: str | None = None,
    text_columns: Collection[str] = (),
    progress: Progress | None = None,
) -> Table:
    """Read a CSV or Parquet file; ``text_columns`` of a CSV keep their text even if numeric."""
    path = Path(path)
    fmt = detect_format(path, file_format)
    if not path.exists():
        raise TableError(f"{path}: no such file")
    if not path.is_file():
        raise TableError(f"{path}: not a file")
    table = read_csv(path, text_columns, progress) if fmt == "csv" else read_parquet(path)
    if table.n_rows == 0:
        raise TableError(f"{path}: has column names but no data rows")
    return table


def read_csv(
    path: Path,
    text_columns: Collection[str] = (),
    progress: Progress | None = None,
    chunk_rows: int = _CHUNK_ROWS,
) -> Table:
    """Read a CSV file with a header row (see the module docstring for value parsing).

    Rows are converted ``chunk_rows`` at a time, so a numeric column holds
    float64 values and a compact copy of its text, not a Python string per cell.
    """
    try:
        with path.open("rb") as raw, io.TextIOWrapper(raw, "utf-8-sig", newline="") as f:
            reader = csv.reader(f, strict=True)
            header = _read_header(reader, path)
            columns = [_Column(name in text_columns) for name in header]
            size = path.stat().st_size
            while chunk := _next_rows(reader, len(header), path, chunk_rows):
                for column, cells in zip(columns, zip(*chunk, strict=True), strict=True):
                    column.add(cells)
                if progress is not None:
                    progress(raw.tell(), size)
    except UnicodeDecodeError as exc:
        raise TableError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise TableError(f"{path}: line {reader.line_num} is not valid CSV: {exc}") from None
    except OSError as exc:
        raise TableError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return Table(tuple(header), tuple(column.values() for column in columns))


def _read_header(reader: Any, path: Path) -> list[str]:
    header = next(reader, None)
    if not header:
        raise TableError(f"{path}: is empty (a header row naming the columns is required)")
    _check_header(header, path)
    return list(header)


def _next_rows(reader: Any, width: int, path: Path, limit: int) -> list[list[str]]:
    """Up to ``limit`` non-blank rows, each checked to have ``width`` fields."""
    rows = []
    for row in reader:
        if not row:  # a blank line
            continue
        if len(row) != width:
            raise TableError(
                f"{path}: line {reader.line_num} has {len(row)} fields, the header has {width}"
            )
        rows.append(row)
        if len(rows) == limit:
            break
    return rows


class _Column:
    """One CSV column built chunk by chunk: numbers while every cell is one, else text."""

    def __init__(self, text: bool) -> None:
        self.text = text
        self._numbers: list[npt.NDArray[np.float64]] = []
        self._raw: list[str] = []  # each numeric chunk's cells, joined by _SEPARATOR
        self._texts: list[npt.NDArray[Any]] = []

    def add(self, cells: Sequence[str]) -> None:
        """Append one chunk's cells of this column."""
        if not self.text:
            joined = _SEPARATOR.join(cells)
            numbers = _chunk_numbers(cells, joined)
            if numbers is not None:
                self._numbers.append(numbers)
                self._raw.append(joined)
                return
            self.text = True  # earlier chunks become text again, from their raw cells
            self._texts = [_text_cells(raw.split(_SEPARATOR)) for raw in self._raw]
            self._numbers, self._raw = [], []
        self._texts.append(_text_cells(cells))

    def values(self) -> npt.NDArray[Any]:
        """The whole column: float64 (NaN where missing) or objects (None where missing)."""
        parts: Sequence[npt.NDArray[Any]] = self._texts if self.text else self._numbers
        if not parts:
            return np.empty(0, dtype=object if self.text else np.float64)
        return np.concatenate(parts)


def _chunk_numbers(cells: Sequence[str], joined: str) -> npt.NDArray[np.float64] | None:
    """The cells as float64 (NaN where blank), or None if one is not a number."""
    # float() accepts "1_000", which no CSV writer means as a number.
    if "_" in joined:
        return None
    try:
        return np.fromiter(map(float, cells), np.float64, len(cells))
    except ValueError:  # a blank cell, or text: the cell-by-cell path decides
        return _parse_numbers([cell if cell.strip() else None for cell in cells])


def _text_cells(cells: Sequence[str]) -> npt.NDArray[Any]:
    return _text([cell if cell.strip() else None for cell in cells])


def _check_header(header: Sequence[str], path: Path) -> None:
    if blank := [i + 1 for i, name in enumerate(header) if not name.strip()]:
        raise TableError(f"{path}: header column(s) {blank} have no name")
    if duplicates := sorted({name for name in header if header.count(name) > 1}):
        raise TableError(f"{path}: header names column(s) {duplicates} more than once")


def _parse_numbers(cells: list[str | None]) -> npt.NDArray[np.float64] | None:
    """The cells as floats (NaN where missing), or None if one of them is not a number."""
    out = np.empty(len(cells), dtype=np.float64)
    for i, cell in enumerate(cells):
        if cell is None:
            out[i] = math.nan
            continue
        if "_" in cell:
            return None
        try:
            out[i] = float(cell)
        except ValueError:
            return None
    return out


def _text(cells: Sequence[object]) -> npt.NDArray[Any]:
    out = np.empty(len(cells), dtype=object)
    out[:] = cells
    return out


def read_parquet(path: Path) -> Table:
    """Read a Parquet file with pyarrow: numbers as float64 (NaN for null), the rest as objects."""
    try:
        parquet = importlib.import_module("pyarrow.parquet")
        types = importlib.import_module("pyarrow.types")
    except ImportError:
        raise TableError(
            f"{path}: reading Parquet needs pyarrow, which is not installed: pip install pyarrow"
        ) from None
    try:
        data = parquet.read_table(path)
    except Exception as exc:  # pyarrow raises its own ArrowInvalid, OSError, ...
        raise TableError(f"{path}: not a readable Parquet file: {exc}") from None
    names = [str(n) for n in data.column_names]
    columns = tuple(_arrow_column(data.column(i), types) for i in range(len(names)))
    return Table(tuple(names), columns)


def _arrow_column(column: Any, types: Any) -> npt.NDArray[Any]:
    values = column.to_pylist()
    if any(
        is_type(column.type) for is_type in (types.is_integer, types.is_floating, types.is_decimal)
    ):
        return np.array([math.nan if v is None else v for v in values], dtype=np.float64)
    return _text(values)


@dataclass(frozen=True, eq=False)
class StrayText:
    """A text column whose cells are mostly numbers: the few others are likely errors."""

    values: npt.NDArray[Any]
    """Floats where a cell is a number, the cell's text elsewhere, None where missing."""
    count: int
    first: str
    row: int
    """Data row (1 = the first after the header) of ``first``."""


def stray_text(column: npt.NDArray[Any]) -> StrayText | None:
    """The cells of a text ``column`` that are no numbers, when at least half the
    others are numbers; None for a float column or a column of real text."""
    if column.dtype.kind != "O":
        return None
    values = np.empty(len(column), dtype=object)
    stray: list[int] = []
    for i, cell in enumerate(column):
        number = None if cell is None else _parse_numbers([str(cell)])
        values[i] = cell if number is None else float(number[0])
        if cell is not None and number is None:
            stray.append(i)
    present = int(sum(cell is not None for cell in column))
    if not stray or (present - len(stray)) * 2 < present:
        return None
    return StrayText(values, len(stray), str(column[stray[0]]), stray[0] + 1)
