"""The versioned JSON form of a :class:`~otel_ml.drift.profile.ReferenceProfile`.

It reads and writes the profile's parts (features, score, prediction,
metadata); the profile class builds itself from them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import numpy as np

from otel_ml.drift.binning import CategoricalBins, NumericBins
from otel_ml.drift.features import (
    CategoricalFeatureProfile,
    FeatureProfile,
    JsonScalar,
    NumericFeatureProfile,
)

FORMAT: Final = "otel-ml.reference-profile"
VERSION: Final = 1
Parts = tuple[
    tuple[FeatureProfile, ...],
    NumericFeatureProfile | None,
    CategoricalFeatureProfile | None,
    Mapping[str, JsonScalar],
]
"""A profile's features, score, prediction and metadata."""


def profile_to_dict(*parts: Any) -> dict[str, Any]:
    """The JSON document of a profile's :data:`Parts`."""
    features, score, prediction, metadata = parts
    return {
        "format": FORMAT,
        "version": VERSION,
        "metadata": dict(metadata),
        "features": [_feature_to_dict(f) for f in features],
        "score": None if score is None else _feature_to_dict(score),
        "prediction": None if prediction is None else _feature_to_dict(prediction),
    }


def _feature_to_dict(f: FeatureProfile) -> dict[str, Any]:
    head = {"name": f.name, "kind": f.kind, "count": f.count, "missing": f.missing}
    if isinstance(f, CategoricalFeatureProfile):
        tail = None if f.bins.tail is None else list(f.bins.tail)
        return {
            **head,
            "categories": list(f.bins.categories),
            "tail": tail,
            "counts": f.counts.tolist(),
        }
    return {
        **head,
        **{"non_finite": f.non_finite, "min": f.min, "max": f.max, "mean": f.mean, "std": f.std},
        "edges": f.bins.edges.tolist(),
        "coarse_starts": f.bins.coarse_starts.tolist(),
        "fine_counts": f.fine_counts.tolist(),
    }


class _FieldError(ValueError):
    pass


class _Fields:
    """Typed reads from one JSON object; errors name the source and field path."""

    def __init__(self, obj: Any, source: str, path: str = "") -> None:
        self.obj, self.source, self.path = obj, source, path
        self.where = f"{source}: {path}" if path else source
        if not isinstance(obj, dict):
            raise _FieldError(f"{self.where}: expected a JSON object, got {type(obj).__name__}")

    def child(self, obj: Any, key: str) -> _Fields:
        return _Fields(obj, self.source, f"{self.path}.{key}" if self.path else key)

    def error(self, key: str, problem: str) -> _FieldError:
        return _FieldError(f"{self.source}: {self.path + '.' if self.path else ''}{key}: {problem}")

    def get(self, key: str, kind: type | tuple[type, ...], nullable: bool = False) -> Any:
        if key not in self.obj:
            raise self.error(key, "missing")
        value = self.obj[key]
        if value is None and nullable:
            return None
        if isinstance(value, bool) is not (kind is bool) or not isinstance(value, kind):
            raise self.error(
                key, f"expected {getattr(kind, '__name__', 'a number')}, got {value!r}"
            )
        return value

    def numbers(self, key: str, integer: bool = False) -> list[Any]:
        values: list[Any] = self.get(key, list)
        kind = int if integer else (int, float)
        if any(isinstance(v, bool) or not isinstance(v, kind) for v in values):
            raise self.error(key, "expected a list of " + ("integers" if integer else "numbers"))
        return values


def profile_from_dict(doc: Any, source: str = "<profile>") -> Parts:
    """A profile's parts from :func:`profile_to_dict` output, validating every field."""
    root = _Fields(doc, source)
    if (fmt := root.get("format", str)) != FORMAT:
        raise root.error("format", f"expected {FORMAT!r}, got {fmt!r}")
    if (version := root.get("version", int)) != VERSION:
        raise root.error("version", f"unsupported version {version} (this otel_ml reads {VERSION})")
    features = [
        _feature_from(root.child(f, f"features[{i}]"))
        for i, f in enumerate(root.get("features", list))
    ]
    score, prediction = (_optional_feature(root, key) for key in ("score", "prediction"))
    if not (score is None or isinstance(score, NumericFeatureProfile)):
        raise root.error("score", "must be a numeric feature")
    if not (prediction is None or isinstance(prediction, CategoricalFeatureProfile)):
        raise root.error("prediction", "must be a categorical feature")
    return tuple(features), score, prediction, root.get("metadata", dict)


def _optional_feature(root: _Fields, key: str) -> FeatureProfile | None:
    doc = root.get(key, dict, nullable=True)
    return None if doc is None else _feature_from(root.child(doc, key))


def _feature_from(d: _Fields) -> FeatureProfile:
    name, kind, missing = d.get("name", str), d.get("kind", str), d.get("missing", int)
    try:
        if kind == "numeric":
            bins = NumericBins(
                np.array(d.numbers("edges")), np.array(d.numbers("coarse_starts", True))
            )
            moments = {k: float(d.get(k, (int, float))) for k in ("mean", "std")}
            feature: FeatureProfile = NumericFeatureProfile(
                name, bins, np.array(d.numbers("fine_counts", True)), missing,
                d.get("non_finite", int), **moments,
            )  # fmt: skip
        elif kind == "categorical":
            categories = tuple(d.get("categories", list))
            tail = d.get("tail", list, nullable=True)
            bins_c = CategoricalBins(categories, None if tail is None else tuple(tail))
            feature = CategoricalFeatureProfile(
                name, bins_c, np.array(d.numbers("counts", True)), missing
            )
        else:
            raise d.error("kind", f"expected 'numeric' or 'categorical', got {kind!r}")
    except _FieldError:
        raise
    except ValueError as exc:
        raise _FieldError(f"{d.where}: {exc}") from None
    if d.get("count", int) != feature.count:
        raise d.error("count", f"is {d.obj['count']} but the bin counts sum to {feature.count}")
    return feature
