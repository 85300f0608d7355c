"""Reference profiles: the training data's distribution per feature, saved as JSON.

A :class:`ReferenceProfile` is fit once from training data (a 2-D numpy array,
a pandas DataFrame, a mapping of columns or a list of dicts) and holds, per
feature, the bins and the reference counts in them. Model outputs are profiled
as pseudo-features: the prediction score as a numeric ``__score__`` and the
predicted class as a categorical ``__prediction__``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from otel_ml.drift.binning import (
    CategoricalBins,
    NumericBins,
    category_counts,
    coerce_numeric,
)
from otel_ml.drift.features import (
    CategoricalFeatureProfile,
    FeatureProfile,
    JsonScalar,
    Kind,
    NumericFeatureProfile,
)
from otel_ml.drift.profile_json import profile_from_dict, profile_to_dict
from otel_ml.drift.rows import BatchCounts, RowBinner
from otel_ml.semconv import PREDICTION_FEATURE, SCORE_FEATURE


@dataclass(frozen=True, eq=False)
class ReferenceProfile:
    """Reference profiles of a model's input features and, optionally, its outputs."""

    features: tuple[FeatureProfile, ...]
    score: NumericFeatureProfile | None = None
    prediction: CategoricalFeatureProfile | None = None
    metadata: Mapping[str, JsonScalar] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = self.feature_names
        if len(set(names)) != len(names):
            raise ValueError(f"feature names must be distinct: {names}")
        object.__setattr__(self, "features", tuple(self.features))
        object.__setattr__(self, "metadata", _check_metadata(self.metadata))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ReferenceProfile):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    @property
    def feature_names(self) -> list[str]:
        """Input feature names, in column order."""
        return [f.name for f in self.features]

    def feature(self, name: str) -> FeatureProfile:
        """The profile of input feature ``name`` (KeyError if there is none)."""
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(name)

    @classmethod
    def fit(
        cls,
        data: Any,
        feature_names: Sequence[str] | None = None,
        kinds: Mapping[str, Kind] | None = None,
        n_bins: int = 500,
        n_coarse_bins: int = 10,
        top_k: int = 50,
        predictions: Any = None,
        scores: Any = None,
        metadata: Mapping[str, JsonScalar] | None = None,
    ) -> ReferenceProfile:
        """Profile training ``data``; see the module docstring for accepted shapes.

        A column is numeric when its values are numbers (bools excluded) and
        categorical otherwise, unless ``kinds`` names its kind.
        """
        names, columns = table_columns(data, feature_names)
        kinds = dict(kinds or {})
        if unknown := set(kinds) - set(names):
            raise ValueError(f"kinds names unknown features: {sorted(unknown)}")
        features = [
            _fit_feature(
                name, col, kinds.get(name) or _kind(name, col), n_bins, n_coarse_bins, top_k
            )
            for name, col in zip(names, columns, strict=True)
        ]
        score = prediction = None
        if scores is not None:
            score = _fit_numeric(SCORE_FEATURE, _column(scores), n_bins, n_coarse_bins)
        if predictions is not None:
            prediction = _fit_categorical(PREDICTION_FEATURE, _column(predictions), top_k)
        return cls(tuple(features), score, prediction, dict(metadata or {}))

    @cached_property
    def row_binner(self) -> RowBinner:
        """A :class:`RowBinner` over the input features, built once."""
        return RowBinner([f.bins for f in self.features])

    def bin_rows(self, rows: Any) -> BatchCounts:
        """Bin a batch of input rows, shaped like the data the profile was fit on.

        A float matrix whose columns are all numeric features is binned without
        copying; other shapes are split into columns first. Missing columns of
        dict rows or DataFrames count as missing values.
        """
        binner = self.row_binner
        if isinstance(rows, np.ndarray) and rows.dtype.kind in "fiu" and not binner.categorical:
            if rows.ndim != 2 or rows.shape[1] != len(self.features):
                raise ValueError(f"expected {len(self.features)} columns, got shape {rows.shape}")
            return binner.bin(rows)
        _, columns = table_columns(rows, self.feature_names, select=True)
        coerced = [coerce_numeric(columns[i]) for i in binner.numeric]
        n = len(columns[0]) if columns else 0
        matrix = np.column_stack([x for x, _ in coerced]) if coerced else np.empty((n, 0))
        type_issues = np.array([bad for _, bad in coerced], dtype=np.int64)
        return binner.bin(matrix, [columns[i] for i in binner.categorical], type_issues)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of this profile (``format``, ``version``, ...)."""
        return profile_to_dict(self.features, self.score, self.prediction, self.metadata)

    @classmethod
    def from_dict(cls, doc: Any, source: str = "<profile>") -> ReferenceProfile:
        """Rebuild a profile; a malformed ``doc`` raises ValueError naming source and field."""
        parts = profile_from_dict(doc, source)
        try:
            return cls(*parts)
        except ValueError as exc:
            raise ValueError(f"{source}: {exc}") from None

    def to_json(self) -> str:
        """This profile as a JSON string."""
        return json.dumps(self.to_dict(), allow_nan=False)

    @classmethod
    def from_json(cls, text: str, source: str = "<string>") -> ReferenceProfile:
        """Parse :meth:`to_json` output; errors name ``source`` and the bad field."""
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{source}: not valid JSON: {exc}") from None
        return cls.from_dict(doc, source)

    def save(self, path: str | Path) -> None:
        """Write this profile as JSON to ``path``."""
        Path(path).write_text(json.dumps(self.to_dict(), allow_nan=False, indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> ReferenceProfile:
        """Read a profile written by :meth:`save`."""
        return cls.from_json(Path(path).read_text(encoding="utf-8"), source=str(path))


def _check_metadata(metadata: Mapping[str, Any]) -> dict[str, JsonScalar]:
    for key, value in metadata.items():
        ok = value is None or isinstance(value, (str, int, bool))
        ok = ok or (isinstance(value, float) and np.isfinite(value))
        if not isinstance(key, str) or not ok:
            raise ValueError(f"metadata[{key!r}] must be a string key with a JSON scalar value")
    return dict(metadata)


def _is_dataframe(data: Any) -> bool:
    return hasattr(data, "columns") and hasattr(data, "dtypes") and hasattr(data, "to_numpy")


def _column(values: Any) -> Any:
    if hasattr(values, "to_numpy"):  # a pandas Series
        values = values.to_numpy()
    if isinstance(values, np.ndarray):
        if values.ndim != 1:
            raise ValueError(f"expected a 1-D column, got shape {values.shape}")
        return values
    return np.asarray(list(values), dtype=object)


def table_columns(
    data: Any, names: Sequence[str] | None = None, select: bool = False
) -> tuple[list[str], list[Any]]:
    """Split tabular ``data`` into (names, 1-D columns).

    DataFrames, mappings of columns and lists of dicts are read by name (all
    their columns when ``names`` is None); with ``select`` a name they lack is
    an all-missing column. 2-D arrays are read by position, named ``f0..``
    unless ``names`` are given.
    """
    if _is_dataframe(data) or isinstance(data, Mapping):
        available = [str(c) for c in data.columns] if _is_dataframe(data) else list(data)
        wanted = list(names) if names is not None else available
        n = len(data) if _is_dataframe(data) else len(_column(next(iter(data.values()), [])))
        lookup = {str(c): c for c in (data.columns if _is_dataframe(data) else data)}
        if not select and (absent := [w for w in wanted if w not in lookup]):
            raise ValueError(f"data has no column(s) {absent}")
        return wanted, [
            _column(data[lookup[w]]) if w in lookup else np.full(n, None, object) for w in wanted
        ]
    if isinstance(data, Sequence) and data and isinstance(data[0], Mapping):
        wanted = (
            list(names) if names is not None else list(dict.fromkeys(k for r in data for k in r))
        )
        return wanted, [np.array([r.get(w) for r in data], dtype=object) for w in wanted]
    arr = data if isinstance(data, np.ndarray) else np.asarray(data, dtype=object)
    if arr.ndim != 2:
        raise ValueError(f"expected 2-D data (rows x features), got shape {arr.shape}")
    labels = list(names) if names is not None else [f"f{i}" for i in range(arr.shape[1])]
    if len(labels) != arr.shape[1]:
        raise ValueError(f"{len(labels)} feature names for {arr.shape[1]} columns")
    return labels, list(arr.T)


def infer_kind(column: Any) -> Kind:
    """``numeric`` for numbers (bools excluded), ``categorical`` for anything else.

    A column mostly of numbers with a few other values is ambiguous (a stray
    string in a numeric column): ValueError, so that the caller names the kind.
    """
    arr = np.asarray(column) if not isinstance(column, np.ndarray) else column
    if arr.dtype.kind in "iuf":
        return "numeric"
    if arr.dtype.kind != "O":
        return "categorical"
    present = [v for v in arr if v is not None and not _is_nan(v)]
    is_number = [isinstance(v, _NUMBERS) and not isinstance(v, (bool, np.bool_)) for v in present]
    numbers = sum(is_number)
    if numbers and numbers < len(present) and numbers * 2 >= len(present):
        stray = next(v for v, ok in zip(present, is_number, strict=True) if not ok)
        raise ValueError(
            f"holds {numbers} numbers and {len(present) - numbers} other value(s) such as "
            f"{stray!r}: clean the column, or name its kind categorical to treat every value "
            "as a label"
        )
    return "numeric" if present and numbers == len(present) else "categorical"


_NUMBERS = (int, float, np.integer, np.floating)


def _kind(name: str, column: Any) -> Kind:
    try:
        return infer_kind(column)
    except ValueError as exc:
        raise ValueError(f"feature {name!r} {exc}") from None


def _is_nan(value: object) -> bool:
    return isinstance(value, float) and value != value


def _fit_feature(
    name: str, column: Any, kind: str, n_bins: int, n_coarse_bins: int, top_k: int
) -> FeatureProfile:
    if kind == "numeric":
        return _fit_numeric(name, column, n_bins, n_coarse_bins)
    if kind == "categorical":
        return _fit_categorical(name, column, top_k)
    raise ValueError(f"feature {name!r}: kind must be 'numeric' or 'categorical', not {kind!r}")


def _fit_numeric(name: str, column: Any, n_bins: int, n_coarse_bins: int) -> NumericFeatureProfile:
    x, bad = coerce_numeric(column)
    if bad:
        raise ValueError(f"numeric feature {name!r} has {bad} non-numeric reference value(s)")
    x = np.ascontiguousarray(x)  # a column of a 2-D array is strided: slow to reduce
    is_finite = np.isfinite(x)
    finite = x if is_finite.all() else x[is_finite]
    if finite.size == 0:
        raise ValueError(f"feature {name!r} has no finite reference values")
    bins, counts = NumericBins.fit_sorted(np.sort(finite), n_bins, n_coarse_bins)
    missing = int(np.count_nonzero(np.isnan(x)))
    mean, std = _moments(finite)
    return NumericFeatureProfile(
        name, bins, counts, missing=missing, non_finite=x.size - finite.size - missing,
        mean=mean, std=std,
    )  # fmt: skip


def _moments(x: npt.NDArray[np.float64]) -> tuple[float, float]:
    """Mean and standard deviation, on values scaled to at most 1 in magnitude:
    squares of values beyond ~1e154 (and sums near 1e308) overflow."""
    scale = float(np.max(np.abs(x)))
    if scale == 0 or 1e-150 < scale < 1e150:
        return float(x.mean()), float(x.std())
    scaled = x / scale
    return float(scaled.mean() * scale), float(scaled.std() * scale)


def _fit_categorical(name: str, column: Any, top_k: int) -> CategoricalFeatureProfile:
    freq = category_counts(column)
    bins = CategoricalBins.from_counts(freq, top_k)
    top = [freq[c] for c in bins.categories]
    counts = np.array([*top, freq.total() - freq[None] - sum(top)], dtype=np.int64)
    if counts.sum() == 0:
        raise ValueError(f"feature {name!r} has no reference values")
    return CategoricalFeatureProfile(name, bins, counts, missing=freq[None])
