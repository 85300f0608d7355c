"""Reference profiles: fitting from several table shapes, JSON round trips, load errors."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from otel_ml.drift.features import CategoricalFeatureProfile, NumericFeatureProfile
from otel_ml.drift.profile import ReferenceProfile
from otel_ml.semconv import PREDICTION_FEATURE, SCORE_FEATURE

N = 2000


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(21)
    age = rng.normal(40, 12, N)
    age[::50] = np.nan
    return pd.DataFrame(
        {
            "age": age,
            "visits": rng.integers(0, 5, N),
            "country": rng.choice(["de", "fr", "us", "jp"], N, p=[0.4, 0.3, 0.2, 0.1]),
            "member": rng.random(N) < 0.3,
        }
    )


@pytest.fixture(scope="module")
def profile(frame: pd.DataFrame) -> ReferenceProfile:
    rng = np.random.default_rng(22)
    return ReferenceProfile.fit(
        frame,
        predictions=rng.choice(["spam", "ham"], N),
        scores=rng.random(N),
        metadata={"baseline_accuracy": 0.93, "dataset": "train-2024", "rows": N, "ok": True},
    )


def test_fit_infers_kinds_and_reference_statistics(
    frame: pd.DataFrame, profile: ReferenceProfile
) -> None:
    assert profile.feature_names == ["age", "visits", "country", "member"]
    assert [f.kind for f in profile.features] == [
        "numeric",
        "numeric",
        "categorical",
        "categorical",
    ]
    age = profile.feature("age")
    assert isinstance(age, NumericFeatureProfile)
    valid = frame["age"].dropna().to_numpy()
    assert (age.count, age.missing, age.non_finite) == (valid.size, 40, 0)
    assert (age.min, age.max) == (valid.min(), valid.max())
    assert age.mean == pytest.approx(valid.mean()) and age.std == pytest.approx(valid.std())
    np.testing.assert_allclose(age.coarse_fractions[1:-1], 0.1, atol=1e-3)
    visits = profile.feature("visits")
    assert isinstance(visits, NumericFeatureProfile)
    values = [0.0, 1.0, 2.0, 3.0]  # each value a point bin: its edge and the next float
    assert visits.bins.edges.tolist() == [*[e for v in values for e in (v, np.nextafter(v, 9))], 4]
    assert visits.bins.coarse_edges.tolist() == [0, 1, 2, 3, 4, 4]
    country = profile.feature("country")
    assert isinstance(country, CategoricalFeatureProfile)
    assert country.bins.labels == ("de", "fr", "us", "jp", "__other__")
    member = profile.feature("member")
    assert isinstance(member, CategoricalFeatureProfile)
    assert set(member.bins.categories) == {"True", "False"}
    assert profile.score is not None and profile.score.name == SCORE_FEATURE
    assert profile.prediction is not None and profile.prediction.name == PREDICTION_FEATURE
    assert profile.prediction.count == N and profile.metadata["baseline_accuracy"] == 0.93
    with pytest.raises(KeyError):
        profile.feature("nope")


def test_every_table_shape_fits_the_same_profile(frame: pd.DataFrame) -> None:
    by_frame = ReferenceProfile.fit(frame)
    records: list[dict[str, Any]] = frame.to_dict("records")
    columns = {name: frame[name].to_numpy() for name in frame.columns}
    matrix = frame.to_numpy(dtype=object)
    assert ReferenceProfile.fit(records) == by_frame
    assert ReferenceProfile.fit(columns) == by_frame
    assert ReferenceProfile.fit(matrix, feature_names=list(frame.columns)) == by_frame
    numeric = frame[["age", "visits"]].to_numpy(dtype=float)
    assert ReferenceProfile.fit(numeric).feature_names == ["f0", "f1"]
    assert (
        ReferenceProfile.fit(numeric, feature_names=["age", "visits"]).to_dict()["features"]
        == (by_frame.to_dict()["features"][:2])
    )


def test_explicit_kinds_override_inference(frame: pd.DataFrame) -> None:
    fitted = ReferenceProfile.fit(frame, kinds={"visits": "categorical"}, top_k=3)
    visits = fitted.feature("visits")
    assert isinstance(visits, CategoricalFeatureProfile) and len(visits.bins.categories) == 3
    with pytest.raises(ValueError, match=r"unknown features: \['nope'\]"):
        ReferenceProfile.fit(frame, kinds={"nope": "numeric"})
    with pytest.raises(ValueError, match="'country' has 2000 non-numeric"):
        ReferenceProfile.fit(frame, kinds={"country": "numeric"})


def test_fit_rejects_features_without_reference_values() -> None:
    with pytest.raises(ValueError, match="'f1' has no finite reference values"):
        ReferenceProfile.fit(np.column_stack([np.arange(5.0), np.full(5, np.nan)]))
    with pytest.raises(ValueError, match="'c' has no reference values"):
        ReferenceProfile.fit([{"c": None}, {"c": None}], kinds={"c": "categorical"})
    with pytest.raises(ValueError, match="metadata"):
        ReferenceProfile.fit(np.ones((3, 1)), metadata={"x": math.nan})


def test_json_round_trip_is_exact(profile: ReferenceProfile, tmp_path: Path) -> None:
    text = profile.to_json()
    again = ReferenceProfile.from_json(text)
    assert again == profile and again.to_json() == text
    age, age_again = profile.feature("age"), again.feature("age")
    assert isinstance(age, NumericFeatureProfile) and isinstance(age_again, NumericFeatureProfile)
    assert age.bins.edges.tolist() == age_again.bins.edges.tolist()
    path = tmp_path / "profile.json"
    profile.save(path)
    loaded = ReferenceProfile.load(path)
    assert loaded == profile and loaded.metadata == profile.metadata
    doc = json.loads(path.read_text())
    assert (doc["format"], doc["version"]) == ("otel-ml.reference-profile", 1)
    assert doc["features"][0]["min"] == age.min and doc["features"][0]["missing"] == 40


def test_bin_rows_accepts_the_table_shapes_of_fitting(
    frame: pd.DataFrame, profile: ReferenceProfile
) -> None:
    window = frame.iloc[:300]
    by_frame = profile.bin_rows(window)
    by_records = profile.bin_rows(window.to_dict("records"))
    assert by_frame.fine.tolist() == by_records.fine.tolist()
    assert by_frame.issues.tolist() == by_records.issues.tolist()
    age_counts = profile.row_binner.split(by_frame.fine)[0]
    assert age_counts.tolist() == profile.feature("age").bin(window["age"]).counts.tolist()
    assert by_frame.issues[0].tolist() == [6, 0, 0, 0, 0]  # six NaN ages in 300 rows
    rows = [{"age": "old", "visits": 9, "country": "br"}]
    odd = profile.bin_rows(rows)
    assert odd.issues.tolist() == [
        [0, 0, 0, 0, 1],  # age: type
        [0, 0, 1, 0, 0],  # visits: out of range
        [0, 0, 0, 1, 0],  # country: unseen
        [1, 0, 0, 0, 0],  # member: missing key
    ]


def test_bin_rows_fast_path_checks_the_column_count() -> None:
    fitted = ReferenceProfile.fit(np.random.default_rng(0).normal(size=(500, 3)))
    assert fitted.bin_rows(np.zeros((4, 3))).fine.sum() == 12
    with pytest.raises(ValueError, match=r"expected 3 columns, got shape \(4, 2\)"):
        fitted.bin_rows(np.zeros((4, 2)))


def _doc(profile: ReferenceProfile) -> dict[str, Any]:
    return json.loads(profile.to_json())  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda d: d.update(format="something-else"), r"format: expected 'otel-ml"),
        (lambda d: d.update(version=2), r"version: unsupported version 2"),
        (lambda d: d.pop("features"), r"features: missing"),
        (lambda d: d["features"][1].update(kind="ordinal"), r"features\[1\]\.kind: expected"),
        (lambda d: d["features"][0].update(edges="0,1"), r"features\[0\]\.edges: expected list"),
        (lambda d: d["features"][0]["edges"].reverse(), r"features\[0\]: edges must be strictly"),
        (lambda d: d["features"][0].update(count=1), r"features\[0\]\.count: is 1 but"),
        (lambda d: d["features"][2]["counts"].append(1), r"features\[2\]: counts must be 5"),
        (lambda d: d["features"][1].update(missing=True), r"features\[1\]\.missing: expected int"),
        (lambda d: d.update(score={"kind": "categorical"}), r"score\.name: missing"),
        (lambda d: d.update(metadata={"x": [1]}), r"metadata\['x'\] must be"),
    ],
)
def test_load_rejects_malformed_files_naming_path_and_field(
    profile: ReferenceProfile, tmp_path: Path, corrupt: Any, message: str
) -> None:
    doc = _doc(profile)
    corrupt(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=message) as info:
        ReferenceProfile.load(path)
    assert str(info.value).startswith(f"{path}: ")


def test_load_rejects_files_that_are_not_profiles(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match=r"p\.json: not valid JSON"):
        ReferenceProfile.load(path)
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"p\.json: expected a JSON object, got list"):
        ReferenceProfile.load(path)
