"""Reading a model's input into the profile's feature order. No OpenTelemetry here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from otel_ml.drift.binning import coerce_numeric
from otel_ml.drift.profile import ReferenceProfile, table_columns

Rows = tuple[npt.NDArray[np.float64], npt.NDArray[Any], npt.NDArray[np.int64] | None]
"""Numeric rows, categorical rows, and type issues per numeric feature (None: none)."""


_NO_CATEGORIES: npt.NDArray[Any] = np.empty((0, 0), object)


class SchemaError(ValueError):
    """The input does not have the profile's features (counted, never raised to users)."""


class InputAdapter:
    """Turns arrays, frames, dicts and lists into (numeric rows, categorical rows, type issues)."""

    def __init__(self, profile: ReferenceProfile) -> None:
        kinds = [f.kind for f in profile.features]
        self.names = profile.feature_names
        self.numeric = [i for i, k in enumerate(kinds) if k == "numeric"]
        self.categorical = [i for i, k in enumerate(kinds) if k == "categorical"]
        self._all_numeric_in_order = self.numeric == list(range(len(kinds)))
        self._known = frozenset(self.names)

    def extra_names(self, inputs: Any) -> list[str]:
        """Named columns of ``inputs`` (a frame, a mapping, records: the first one's
        keys) that are no feature of the profile."""
        if hasattr(inputs, "columns") and hasattr(inputs, "dtypes"):
            names = list(inputs.columns)
        elif isinstance(inputs, Mapping):
            names = list(inputs)
        elif isinstance(inputs, list | tuple) and inputs and isinstance(inputs[0], Mapping):
            names = list(inputs[0])
        else:
            return []
        return [str(n) for n in names if str(n) not in self._known]

    def rows(self, inputs: Any) -> Rows:
        """The rows of ``inputs``; raises :class:`SchemaError` for a wrong shape."""
        if isinstance(inputs, np.ndarray) and inputs.dtype.kind in "fiub":
            return self._numeric_array(inputs)
        if isinstance(inputs, list | tuple) and not inputs:
            return self._from_columns([np.empty(0, object) for _ in self.names])
        if isinstance(inputs, Mapping) and not _is_column_mapping(inputs):
            inputs = [inputs]  # one record
        elif _is_flat_row(inputs):
            inputs = [list(inputs)]
        try:
            _, columns = table_columns(inputs, self.names, select=True)
            # Cells that are themselves sequences (a list where a value belongs)
            # make numpy build 2-D columns: the input does not fit the profile.
            return self._from_columns(columns)
        except (ValueError, TypeError) as exc:
            raise SchemaError(str(exc)) from None

    def _numeric_array(self, x: npt.NDArray[Any]) -> Rows:
        if x.ndim == 1:
            x = x.reshape(1, -1)
        if x.ndim != 2 or x.shape[1] != len(self.names):
            raise SchemaError(f"expected {len(self.names)} features, got shape {x.shape}")
        if self._all_numeric_in_order:
            numeric = x.astype(np.float64, copy=False)
            return numeric, _NO_CATEGORIES, None
        columns = list(x.T)
        return self._from_columns(columns)

    def _from_columns(self, columns: Sequence[Any]) -> Rows:
        n = len(columns[0]) if len(columns) else 0
        if any(len(c) != n for c in columns):
            raise SchemaError(f"columns of different lengths: {sorted({len(c) for c in columns})}")
        coerced = [coerce_numeric(columns[i]) for i in self.numeric]
        numeric = np.column_stack([c for c, _ in coerced]) if coerced else np.empty((n, 0))
        issues = np.array([bad for _, bad in coerced], np.int64)
        categorical = np.empty((n, len(self.categorical)), object)
        for j, i in enumerate(self.categorical):
            categorical[:, j] = columns[i]
        return numeric, categorical, issues


def _is_column_mapping(inputs: Mapping[Any, Any]) -> bool:
    first = next(iter(inputs.values()), None)
    return isinstance(first, list | tuple | np.ndarray) or hasattr(first, "to_numpy")


def _is_flat_row(inputs: Any) -> bool:
    if not isinstance(inputs, list | tuple) or not inputs:
        return False
    return not isinstance(inputs[0], list | tuple | Mapping | np.ndarray)
