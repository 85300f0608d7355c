"""`otel-ml profile`: CSV files in, reference profiles and a summary out, user errors as exit 2."""

from __future__ import annotations

import csv
import math
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from otel_ml.cli import main
from otel_ml.drift.features import CategoricalFeatureProfile, NumericFeatureProfile
from otel_ml.drift.profile import ReferenceProfile

OTEL_ML = str(Path(sys.executable).with_name("otel-ml"))
N = 3000


def _training_columns() -> dict[str, Any]:
    rng = np.random.default_rng(7)
    age = rng.normal(40, 12, N)
    age[::60] = np.nan
    city = rng.choice(["berlin", "paris", "rome", "oslo"], N, p=[0.4, 0.3, 0.2, 0.1])
    city = city.astype(object)
    city[::97] = None
    label = rng.integers(0, 2, N)
    return {
        "age": age,
        "visits": rng.integers(0, 6, N).astype(np.float64),
        "city": city,
        "label": label,
        "pred": np.where(rng.random(N) < 0.85, label, 1 - label),
        "proba": rng.random(N),
    }


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return repr(value) if isinstance(value, float) else str(value)


def write_csv(path: Path, columns: Mapping[str, Sequence[Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for row in zip(*columns.values(), strict=True):
            writer.writerow([_cell(v.item() if isinstance(v, np.generic) else v) for v in row])
    return path


@pytest.fixture(scope="module")
def columns() -> dict[str, Any]:
    return _training_columns()


@pytest.fixture(scope="module")
def train_csv(tmp_path_factory: pytest.TempPathFactory, columns: dict[str, Any]) -> Path:
    return write_csv(tmp_path_factory.mktemp("data") / "train.csv", columns)


def call(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    """Run ``otel-ml`` in-process: (exit code, stdout, stderr)."""
    try:
        code: Any = main([str(a) for a in args])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def table_rows(summary: str) -> dict[str, list[str]]:
    """The feature table of a summary: name -> [kind, count, missing, distribution]."""
    lines = summary.split("\n\n")[1].splitlines()
    assert lines[0].split() == ["feature", "kind", "count", "missing", "distribution"]
    return {line.split()[0]: line.split(maxsplit=4)[1:] for line in lines[1:]}


def test_profile_of_a_csv_equals_a_fit_on_the_same_data(
    train_csv: Path, columns: dict[str, Any], tmp_path: Path
) -> None:
    output = tmp_path / "reference.json"
    done = subprocess.run(
        [OTEL_ML, "profile", str(train_csv), "--target", "label", "-o", str(output)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""

    profile = ReferenceProfile.load(output)
    features = {name: columns[name] for name in ("age", "visits", "city", "pred", "proba")}
    expected = ReferenceProfile.fit(features)
    assert profile.feature_names == ["age", "visits", "city", "pred", "proba"]  # no label
    assert [f.kind for f in profile.features] == [
        "numeric", "numeric", "categorical", "numeric", "numeric"
    ]  # fmt: skip
    assert profile.to_dict()["features"] == expected.to_dict()["features"]
    assert (profile.score, profile.prediction) == (None, None)
    assert dict(profile.metadata) == {"source": "train.csv", "rows": N, "target": "label"}

    out = done.stdout
    assert out.startswith(f"Profiled {N} rows of {train_csv}.\n")
    assert "Columns used: target 'label'." in out
    assert f"Wrote {output}: 5 features." in out
    rows = table_rows(out)
    assert list(rows) == ["age", "visits", "city", "pred", "proba"]
    assert rows["age"][:3] == ["numeric", str(N - N // 60), str(N // 60)]
    age = expected.feature("age")
    assert isinstance(age, NumericFeatureProfile)
    assert rows["age"][3] == f"min {age.min:.4g}  mean {age.mean:.4g}  max {age.max:.4g}"
    assert rows["visits"][3] == f"min 0  mean {np.mean(columns['visits']):.4g}  max 5"
    missing_cities = len(range(0, N, 97))
    assert rows["city"][:3] == ["categorical", str(N - missing_cities), str(missing_cities)]
    city = expected.feature("city")
    assert isinstance(city, CategoricalFeatureProfile)
    shares = ", ".join(
        f"{c} {share:.1%}"
        for c, share in zip(city.bins.categories, city.coarse_fractions[:-1], strict=True)
    )
    assert rows["city"][3] == f"4 kept: {shares}"
    assert all(len(line) <= 100 for line in out.splitlines())


def test_prediction_and_score_columns_become_pseudo_features_with_a_baseline_accuracy(
    capsys: pytest.CaptureFixture[str], train_csv: Path, columns: dict[str, Any], tmp_path: Path
) -> None:
    output = tmp_path / "reference.json"
    code, out, err = call(
        capsys, "profile", train_csv, "--target", "label", "--prediction", "pred",
        "--score", "proba", "--output", output,
    )  # fmt: skip
    assert (code, err) == (0, "")

    profile = ReferenceProfile.load(output)
    accuracy = float(np.mean(columns["label"] == columns["pred"]))
    assert 0.8 < accuracy < 0.9
    assert dict(profile.metadata) == {
        "source": "train.csv",
        "rows": N,
        "target": "label",
        "prediction": "pred",
        "score": "proba",
        "baseline_accuracy": accuracy,
    }
    expected = ReferenceProfile.fit(
        {name: columns[name] for name in ("age", "visits", "city")},
        predictions=columns["pred"],
        scores=columns["proba"],
    )
    doc, expected_doc = profile.to_dict(), expected.to_dict()
    for key in ("features", "score", "prediction"):
        assert doc[key] == expected_doc[key], key
    assert profile.feature_names == ["age", "visits", "city"]
    assert profile.prediction is not None and profile.prediction.bins.categories in (
        ("0", "1"), ("1", "0"),
    )  # fmt: skip

    assert "Columns used: target 'label', prediction 'pred', score 'proba'." in out
    assert f"Baseline accuracy (prediction vs target): {accuracy:.4f}" in out
    assert f"Wrote {output}: 3 features + __score__ + __prediction__." in out
    rows = table_rows(out)
    assert list(rows) == ["age", "visits", "city", "__score__", "__prediction__"]
    assert rows["__score__"][:3] == ["numeric", str(N), "0"]
    assert rows["__prediction__"][:3] == ["categorical", str(N), "0"]


def test_missing_cells_mixed_columns_and_forced_categories(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    n = 400
    zips = [f"0{2100 + i % 7}" for i in range(n)]  # numbers to a parser, categories to a user
    data = {
        "amount": ["" if i % 8 == 0 else f"{i * 0.5}" for i in range(n)],
        "size": [str(i % 5) if i % 10 else "n/a" for i in range(n)],
        "zip": zips,
        "note": ["" for _ in range(n)],
    }
    source = write_csv(tmp_path / "mixed.csv", data)
    output = tmp_path / "mixed.json"

    code, out, err = call(
        capsys, "profile", source, "-o", output, "--features", "zip,size,amount",
        "--categorical", "zip",
    )  # fmt: skip
    # Numbers with a few cells of text: the user says which it is.
    assert code == 2 and "column 'size' holds numbers but 40 cell(s) of text" in err
    code, out, err = call(
        capsys, "profile", source, "-o", output, "--features", "zip,size,amount",
        "--categorical", "zip,size",
    )  # fmt: skip
    assert (code, err) == (0, "")
    profile = ReferenceProfile.load(output)
    assert profile.feature_names == ["zip", "size", "amount"]
    assert [f.kind for f in profile.features] == ["categorical", "categorical", "numeric"]
    zip_code = profile.feature("zip")
    assert isinstance(zip_code, CategoricalFeatureProfile)
    assert sorted(zip_code.bins.categories) == [f"0{2100 + i}" for i in range(7)]
    size = profile.feature("size")
    assert isinstance(size, CategoricalFeatureProfile)
    assert sorted(size.bins.categories) == ["0", "1", "2", "3", "4", "n/a"]
    amount = profile.feature("amount")
    assert (amount.count, amount.missing) == (n - n // 8, n // 8)
    rows = table_rows(out)
    assert rows["amount"][:3] == ["numeric", str(n - n // 8), str(n // 8)]
    assert rows["zip"][:3] == ["categorical", str(n), "0"]
    assert rows["zip"][3].startswith("7 kept: ")

    code, _, err = call(capsys, "profile", source, "-o", output, "--features", "zip")
    assert (code, err) == (0, "")
    assert [f.kind for f in ReferenceProfile.load(output).features] == ["numeric"]


def test_options_choose_features_bins_and_an_even_sample(
    capsys: pytest.CaptureFixture[str], train_csv: Path, columns: dict[str, Any], tmp_path: Path
) -> None:
    output = tmp_path / "sampled.json"
    code, out, err = call(
        capsys, "profile", train_csv, "-o", output, "--features", "city,age",
        "--bins", "20", "--coarse-bins", "5", "--top-k", "2", "--max-rows", "1000",
    )  # fmt: skip
    assert (code, err) == (0, "")

    every_third = {name: columns[name][::3] for name in ("city", "age")}
    expected = ReferenceProfile.fit(every_third, n_bins=20, n_coarse_bins=5, top_k=2)
    profile = ReferenceProfile.load(output)
    assert profile.to_dict()["features"] == expected.to_dict()["features"]
    assert profile.metadata["rows"] == 1000
    age = profile.feature("age")
    assert isinstance(age, NumericFeatureProfile)
    assert age.bins.n_coarse == 7  # 5 plus underflow and overflow
    assert out.startswith(f"Profiled 1000 rows of {train_csv} (spread evenly over the 3000 rows")
    assert table_rows(out)["city"][3].startswith("2 of 4 kept: berlin ")


def test_format_option_reads_a_csv_with_another_extension(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = write_csv(tmp_path / "export.txt", {"x": [1, 2, 3], "y": ["a", "b", "a"]})
    output = tmp_path / "p.json"
    code, _, err = call(capsys, "profile", source, "--format", "csv", "-o", output)
    assert (code, err) == (0, "")
    assert ReferenceProfile.load(output).feature_names == ["x", "y"]


def test_parquet_without_pyarrow_fails_with_the_pip_hint(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "train.parquet"
    source.write_bytes(b"PAR1")
    output = tmp_path / "p.json"
    # pyarrow is not a dependency; this makes the test hold where it happens to be installed.
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    for args in ((source,), (write_csv(tmp_path / "t.csv", {"x": [1]}), "--format", "parquet")):
        code, out, err = call(capsys, "profile", *args, "-o", output)
        assert code == 2
        assert out == ""
        assert "reading Parquet needs pyarrow" in err
        assert err.rstrip().endswith("pip install pyarrow")
        assert not output.exists()


def _errors_csv(tmp_path: Path) -> Path:
    return write_csv(
        tmp_path / "small.csv",
        {"a": [1, 2, 3], "b": ["x", "y", "x"], "label": [0, 1, 0], "empty": ["", "", ""]},
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("{dir}/absent.csv",), "absent.csv: no such file"),
        (("{dir}",), "cannot tell the format"),
        (
            ("{csv}", "--features", "a,nope"),
            "--features names unknown column(s) 'nope'; its columns are 'a', 'b', 'label', 'empty'",
        ),
        (("{csv}", "--target", "lbl"), "no target column 'lbl' in {csv}; its columns are 'a'"),
        (("{csv}", "--prediction", "p"), "no prediction column 'p'"),
        (("{csv}", "--score", "s", "--features", "a"), "no score column 's'"),
        (("{csv}", "--target", "label", "--features", "a,label"), "--features names 'label', used"),
        (("{csv}", "--target", "a", "--prediction", "a"), "must name different columns"),
        (("{csv}", "--features", "a", "--categorical", "b"), "--categorical names 'b', which"),
        (("{csv}", "--features", "a,b,a"), "--features names 'a' more than once"),
        (("{csv}", "--features", "a", "--score", "b"), "score column 'b' holds text"),
        (("{csv}",), "column 'empty' has no values"),
        (("{csv}", "--bins", "0"), "--bins: expected a number >= 1, got 0"),
        (("{csv}", "--top-k", "many"), "--top-k: expected a whole number, got 'many'"),
        (("{csv}", "--max-rows", "1.5"), "--max-rows: expected a whole number"),
        (("{csv}", "--bins", "5", "--coarse-bins", "10"), "--coarse-bins (10) must not exceed"),
        (("{csv}", "--features", "a,,b"), "expected comma-separated column names"),
        (("{csv}", "--format", "xlsx"), "invalid choice: 'xlsx'"),
        (("{csv}", "--features", "a", "-o", "{dir}/no/such/dir/p.json"), "cannot write"),
        (("{csv}", "--features", "a", "--output"), "expected one argument"),
    ],
)
def test_user_errors_exit_2_with_a_message(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    source = _errors_csv(tmp_path)
    fill = {"dir": str(tmp_path), "csv": str(source)}
    argv = [a.format(**fill) for a in args]
    if "-o" not in argv and "--output" not in argv:
        argv += ["-o", str(tmp_path / "p.json")]
    code, out, err = call(capsys, "profile", *argv)
    assert code == 2
    assert out == ""
    assert message.format(**fill) in err
    assert "Traceback" not in err
    assert not (tmp_path / "p.json").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty (a header row naming the columns is required)"),
        ("a,b\n", "has column names but no data rows"),
        ("a,b\n1,2\n3\n", "line 3 has 1 fields, the header has 2"),
        ("a,a\n1,2\n", "header names column(s) ['a'] more than once"),
        ("a,,c\n1,2,3\n", "header column(s) [2] have no name"),
        ('a,b\n1,"2\n', "line 2 is not valid CSV: unexpected end of data"),
    ],
)
def test_malformed_csv_files_exit_2_naming_the_problem(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str, message: str
) -> None:
    source = tmp_path / "bad.csv"
    source.write_text(content, encoding="utf-8")
    code, out, err = call(capsys, "profile", source, "-o", tmp_path / "p.json")
    assert (code, out) == (2, "")
    assert err == f"otel-ml profile: error: {source}: {message}\n"


def test_missing_output_option_and_the_help_of_every_option(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = call(capsys, "profile", "train.csv")
    assert code == 2
    assert "the following arguments are required: -o/--output" in err

    done = subprocess.run(
        [OTEL_ML, "profile", "--help"], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0
    options = re.findall(r"^ {2}(-[-\w]+|DATA)", done.stdout, re.MULTILINE)
    assert options == [
        "DATA", "-h", "-o", "--target", "--prediction", "--score", "--features",
        "--categorical", "--bins", "--coarse-bins", "--top-k", "--max-rows", "--format",
    ]  # fmt: skip
