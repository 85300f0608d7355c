"""Reading training data from CSV or Parquet files into named 1-D columns.

CSV is read with the standard library: the first row names the columns, an
empty cell is a missing value, and a column whose every non-empty cell is a
number becomes a float64 array (NaN where missing); any other column keeps its
text (None where missing). Parquet needs the optional ``pyarrow`` package.
"""

from __future__ import annotations

import csv
import importlib
import math
from collections.abc import Collection, Sequence
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


def read_table(
    path: str | Path, file_format: str | None = None, text_columns: Collection[str] = ()
) -> Table:
    """Read a CSV or Parquet file; ``text_columns`` of a CSV keep their text even if numeric."""
    path = Path(path)
    fmt = detect_format(path, file_format)
    if not path.exists():
        raise TableError(f"{path}: no such file")
    if not path.is_file():
        raise TableError(f"{path}: not a file")
    table = read_csv(path, text_columns) if fmt == "csv" else read_parquet(path)
    if table.n_rows == 0:
        raise TableError(f"{path}: has column names but no data rows")
    return table


def read_csv(path: Path, text_columns: Collection[str] = ()) -> Table:
    """Read a CSV file with a header row (see the module docstring for value parsing)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f, strict=True)
            header, cells = _read_cells(reader, path)
    except UnicodeDecodeError as exc:
        raise TableError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise TableError(f"{path}: line {reader.line_num} is not valid CSV: {exc}") from None
    except OSError as exc:
        raise TableError(f"{path}: cannot read: {exc.strerror or exc}") from None
    columns = tuple(
        _text(col) if name in text_columns else _parse_column(col)
        for name, col in zip(header, cells, strict=True)
    )
    return Table(tuple(header), columns)


def _read_cells(reader: Any, path: Path) -> tuple[list[str], list[list[str | None]]]:
    header = next(reader, None)
    if not header:
        raise TableError(f"{path}: is empty (a header row naming the columns is required)")
    _check_header(header, path)
    cells: list[list[str | None]] = [[] for _ in header]
    for row in reader:
        if not row:  # a blank line
            continue
        if len(row) != len(header):
            raise TableError(
                f"{path}: line {reader.line_num} has {len(row)} fields, "
                f"the header has {len(header)}"
            )
        for col, cell in zip(cells, row, strict=True):
            col.append(cell if cell.strip() else None)
    return header, cells


def _check_header(header: Sequence[str], path: Path) -> None:
    if blank := [i + 1 for i, name in enumerate(header) if not name.strip()]:
        raise TableError(f"{path}: header column(s) {blank} have no name")
    if duplicates := sorted({name for name in header if header.count(name) > 1}):
        raise TableError(f"{path}: header names column(s) {duplicates} more than once")


def _parse_column(cells: list[str | None]) -> npt.NDArray[Any]:
    numbers = _parse_numbers(cells)
    return _text(cells) if numbers is None else numbers


def _parse_numbers(cells: list[str | None]) -> npt.NDArray[np.float64] | None:
    """The cells as floats (NaN where missing), or None if one of them is not a number."""
    out = np.empty(len(cells), dtype=np.float64)
    for i, cell in enumerate(cells):
        if cell is None:
            out[i] = math.nan
            continue
        if "_" in cell:  # float() accepts "1_000", which no CSV writer means as a number
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
