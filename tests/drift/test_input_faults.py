"""Input faults give a clear error naming the feature or file, or a counted issue:
never a traceback, a silently wrong kind, or drift quietly off."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from otel_ml import semconv
from otel_ml.cli import main
from otel_ml.config import Settings, SettingsError
from otel_ml.drift.binning import NumericBins
from otel_ml.drift.features import NumericFeatureProfile
from otel_ml.drift.monitor import window_config
from otel_ml.drift.profile import ReferenceProfile

RNG = np.random.default_rng(31)


def _call(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_profile_of_values_beyond_1e154_succeeds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "big.csv"
    pd.DataFrame({"huge": RNG.uniform(1e154, 9e154, 500), "x": RNG.normal(size=500)}).to_csv(
        data, index=False
    )
    code, out, err = _call(capsys, "profile", data, "-o", tmp_path / "p.json")
    assert (code, err) == (0, "")
    huge = ReferenceProfile.load(tmp_path / "p.json").feature("huge")
    assert isinstance(huge, NumericFeatureProfile)
    assert huge.std == pytest.approx(8e154 / 12**0.5, rel=0.1)  # a uniform distribution
    assert "Smallest useful drift window: " in out


def test_save_of_values_near_the_float_limit_round_trips(tmp_path: Path) -> None:
    profile = ReferenceProfile.fit({"limit": np.array([1e308, -1e308, 0.0, 5e307] * 50)})
    profile.save(tmp_path / "p.json")
    assert ReferenceProfile.load(tmp_path / "p.json") == profile


def test_a_feature_with_non_finite_moments_is_refused_by_name() -> None:
    bins = NumericBins.fit(np.arange(10.0))
    with pytest.raises(ValueError, match="feature 'limit': mean inf"):
        NumericFeatureProfile("limit", bins, bins.bin(np.arange(10.0)).counts, mean=math.inf)


def test_a_stray_string_in_a_numeric_column_is_an_error_naming_the_feature() -> None:
    column: list[Any] = list(RNG.normal(size=200))
    column[17] = "n/a"
    with pytest.raises(ValueError, match=r"feature 'age' holds 199 numbers and 1 other.*'n/a'"):
        ReferenceProfile.fit({"age": np.array(column, dtype=object)})
    # Naming the kind settles it: categories, or numbers with the text refused.
    fitted = ReferenceProfile.fit(
        {"age": np.array(column, dtype=object)}, kinds={"age": "categorical"}
    )
    assert fitted.feature("age").kind == "categorical"
    with pytest.raises(ValueError, match="'age' has 1 non-numeric"):
        ReferenceProfile.fit({"age": np.array(column, dtype=object)}, kinds={"age": "numeric"})
    # Real text stays categorical.
    assert ReferenceProfile.fit({"c": np.array(["a", "b", 3], dtype=object)}).features[0].kind == (
        "categorical"
    )


def test_the_profile_command_refuses_a_stray_string_with_the_cell(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = pd.DataFrame({"age": RNG.normal(40, 10, 300).round(2).astype(object)})
    frame.loc[41, "age"] = "forty"
    frame.to_csv(tmp_path / "train.csv", index=False)
    code, _, err = _call(capsys, "profile", tmp_path / "train.csv", "-o", tmp_path / "p.json")
    assert code == 2
    assert (
        "column 'age' holds numbers but 1 cell(s) of text, the first 'forty' in data row 42" in err
    )
    assert not (tmp_path / "p.json").exists()
    code, _, _ = _call(
        capsys, "profile", tmp_path / "train.csv", "-o", tmp_path / "p.json", "--categorical", "age"
    )
    assert code == 0


def test_one_bad_cell_in_a_report_counts_as_a_type_issue(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pd.DataFrame({"amount": RNG.lognormal(3, 1, 3000)}).to_csv(tmp_path / "train.csv", index=False)
    assert _call(capsys, "profile", tmp_path / "train.csv", "-o", tmp_path / "p.json")[0] == 0
    current = pd.DataFrame({"amount": RNG.lognormal(3, 1, 500).round(3).astype(object)})
    current.loc[9, "amount"] = "#REF!"
    current.to_csv(tmp_path / "current.csv", index=False)
    out = tmp_path / "r.json"
    code, _, err = _call(capsys, "report", tmp_path / "p.json", tmp_path / "current.csv", "-o", out)
    assert code == 0
    assert "column 'amount': 1 cell(s) of text, the first '#REF!' in data row 10" in err
    [feature] = json.loads(out.read_text())["models"][0]["features"]
    last = feature["last_window"]
    assert last["n"] == 499 and last["issues"] == {"type": 1} and last["verdict"] == "ok"


def test_window_config_refuses_a_minimum_count_above_the_window() -> None:
    settings = Settings.load({"OTEL_ML_DRIFT_WINDOW_ROWS": "100", "OTEL_ML_DRIFT_MIN_COUNT": "500"})
    with pytest.raises(SettingsError, match="OTEL_ML_DRIFT_MIN_COUNT=500 exceeds"):
        window_config(settings)
    bad_rates = Settings.load({"OTEL_ML_DRIFT_FALSE_ALARM_RATE": "0.2"})
    with pytest.raises(SettingsError, match="OTEL_ML_DRIFT_WARN_RATE"):
        window_config(bad_rates)
    assert window_config(Settings.load({})).min_count == 1


def test_a_column_outside_the_profile_counts_as_a_schema_issue() -> None:
    from otel_ml.drift.inputs import InputAdapter

    profile = ReferenceProfile.fit({"a": RNG.normal(size=300), "b": RNG.normal(size=300)})
    adapter = InputAdapter(profile)
    frame = pd.DataFrame({"a": [1.0], "b": [2.0], "extra": [3.0]})
    assert adapter.extra_names(frame) == ["extra"]
    assert adapter.extra_names({"a": 1.0, "zz": 2}) == ["zz"]
    assert adapter.extra_names([{"a": 1.0, "b": 2.0}]) == []
    assert adapter.extra_names(np.zeros((1, 2))) == []
    assert semconv.SCHEMA_ISSUE == "schema"
