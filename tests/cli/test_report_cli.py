"""``otel-ml report``: the drift page of a CSV file, offline."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from drift_page_support import parse_page

from otel_ml.cli import main
from otel_ml.drift.profile import ReferenceProfile
from otel_ml.drift.statistics import ks_from_counts, psi

RNG = np.random.default_rng(9)


def _data(n: int, shift: float = 0.0, web: float = 0.6) -> pd.DataFrame:
    frame = pd.DataFrame({
        "amount": RNG.lognormal(3 + shift, 1, n),
        "zip": RNG.choice(["02139", "10001", "94110"], n),
        "channel": RNG.choice(["web", "app"], n, p=[web, 1 - web]),
        "proba": RNG.uniform(0.5, 1, n),
    })  # fmt: skip
    frame["pred"] = np.where(frame["amount"] > 20, "fraud", "ok")
    return frame


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``train.csv`` profiled into ``reference.json`` and a drifted ``current.csv``."""
    root = tmp_path_factory.mktemp("report")
    _data(4000).to_csv(root / "train.csv", index=False)
    assert main([
        "profile", str(root / "train.csv"), "--prediction", "pred", "--score", "proba",
        "--categorical", "zip", "-o", str(root / "reference.json"),
    ]) == 0  # fmt: skip
    current = _data(1200, shift=0.8, web=0.2)
    current.loc[::40, "amount"] = np.nan
    current.to_csv(root / "current.csv", index=False)
    return root


def test_writes_the_page_with_a_chart_per_feature(
    files: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report.html"
    code = main(
        ["report", str(files / "reference.json"), str(files / "current.csv"), "-o", str(out)]
    )

    assert code == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}: 1200 rows" in printed and "drifted: amount, channel" in printed
    parsed = parse_page(out.read_text(encoding="utf-8"))
    cards = {card["name"]: card for card in parsed.cards}
    assert set(cards) == {"amount", "zip", "channel", "__score__", "__prediction__"}
    assert all(card["svg"] == 1 and card["cur"] == card["ref"] > 0 for card in cards.values())
    shown = "".join(parsed.text)
    assert "current.csv: 1200 rows, scored as one window" in shown
    assert "missing 30" in shown  # every 40th amount is empty


def test_the_json_report_scores_the_file_against_the_profile(
    files: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report.json"
    args = [str(files / "reference.json"), str(files / "current.csv"), "-o", str(out)]
    assert main(["report", *args, "--format", "json", "--model", "fraud"]) == 0

    doc = json.loads(out.read_text(encoding="utf-8"))
    [model] = doc["models"]
    assert model["model"] == "fraud" and model["data"] == "current.csv"
    features = {f["name"]: f for f in model["features"]}
    profile = ReferenceProfile.load(files / "reference.json")
    current = pd.read_csv(files / "current.csv", dtype={"zip": str})
    # Counts recomputed here from the raw file agree with the report's.
    amount = profile.feature("amount")
    fine, _ = amount.bins.count(current["amount"].to_numpy(np.float64))
    assert features["amount"]["last_window"]["counts"] == amount.bins.coarse(fine).tolist()
    assert features["amount"]["last_window"]["n"] == 1170
    scores = features["amount"]["last_window"]["scores"]
    assert scores["ks"] == pytest.approx(ks_from_counts(amount.fine_fractions, fine))
    zip_counts = features["zip"]["last_window"]["counts"]
    assert sum(zip_counts) == 1200 and sorted(features["zip"]["bins"][:3]) == [
        "02139",
        "10001",
        "94110",
    ]
    for name in ("channel", "__prediction__", "__score__"):
        last = features[name]["last_window"]
        assert last["n"] == 1200
        assert last["scores"]["psi"] == pytest.approx(
            psi(features[name]["reference"], last["counts"])
        )
    assert features["amount"]["last_window"]["verdict"] == "drift"
    assert features["zip"]["last_window"]["verdict"] == "ok"
    capsys.readouterr()


def test_a_small_file_is_reported_too_small_with_a_note(
    files: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    small = tmp_path / "small.csv"
    _data(50).to_csv(small, index=False)
    out = tmp_path / "small.html"
    assert main(["report", str(files / "reference.json"), str(small), "-o", str(out)]) == 0
    assert "'amount' has 50 values, fewer than the 66 its test needs" in capsys.readouterr().err
    page = out.read_text(encoding="utf-8")
    assert "too small" in page and "window too small to judge" in page

    # --min-count raises the floor; it never lowers the test's own.
    enough = tmp_path / "enough.csv"
    _data(80).to_csv(enough, index=False)
    args = ["report", str(files / "reference.json"), str(enough), "-o", str(out)]
    assert main([*args, "--min-count", "20"]) == 0
    assert "fewer than" not in capsys.readouterr().err
    assert main([*args, "--min-count", "100"]) == 0
    assert "'amount' has 80 values, fewer than the 100" in capsys.readouterr().err


def test_outputs_the_file_lacks_are_left_out_with_a_note(
    files: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs = tmp_path / "inputs.csv"
    pd.read_csv(files / "current.csv", dtype=str)[["amount", "zip", "channel"]].to_csv(
        inputs, index=False
    )
    out = tmp_path / "inputs.json"
    args = [str(files / "reference.json"), str(inputs), "-o", str(out), "--format", "json"]
    assert main(["report", *args]) == 0

    err = capsys.readouterr().err
    assert "inputs.csv has no column 'pred'; name it with --prediction to compare it" in err
    assert "the profile has __score__ but " in err and "no column 'proba'" in err
    features = {f["name"]: f for f in json.loads(out.read_text())["models"][0]["features"]}
    assert features["__score__"]["last_window"]["n"] == 0
    assert features["channel"]["last_window"]["n"] == 1200


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["{ref}", "{dir}/nope.csv", "-o", "{out}"], "nope.csv: no such file"),
        (["{dir}/nope.json", "{cur}", "-o", "{out}"], "nope.json: no such file"),
        (["{cur}", "{cur}", "-o", "{out}"], "expected a reference profile .json"),
        (["{ref}", "{ref}", "-o", "{out}"], "cannot tell the format"),
        (["{ref}", "{cur}", "-o", "{dir}/report.txt"], "expected a .html, .htm or .json file"),
        (
            ["{ref}", "{cur}", "-o", "{dir}/r.json", "--format", "html"],
            "a html report needs a .html or .htm file name",
        ),
        (["{ref}", "{cur}", "-o", "{out}", "--fail-on", "never"], "invalid choice: 'never'"),
        (["{ref}", "{cur}", "-o", "{dir}/missing/r.html"], "no such directory"),
        (
            ["{ref}", "{dir}/other.csv", "-o", "{out}"],
            "lacks the profile's feature column(s) 'zip'",
        ),
        (["{ref}", "{cur}", "-o", "{out}", "--score", "nope"], "has no column 'nope'"),
        (["{dir}/bad.json", "{cur}", "-o", "{out}"], "not a valid reference profile"),
        (["{ref}", "{cur}", "-o", "{out}", "--format", "pdf"], "invalid choice: 'pdf'"),
        (["{ref}", "{cur}", "-o", "{out}", "--min-count", "0"], "expected a number >= 1"),
        (["{ref}", "{cur}"], "the following arguments are required: -o/--output"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message(
    files: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    _data(10).drop(columns=["zip"]).to_csv(tmp_path / "other.csv", index=False)
    (tmp_path / "bad.json").write_text('{"format": "something else"}')
    paths = {
        "ref": files / "reference.json",
        "cur": files / "current.csv",
        "dir": tmp_path,
        "out": tmp_path / "report.html",
    }
    args = [a.format(**paths) for a in argv]
    with pytest.raises(SystemExit) as exited:
        sys.exit(main(["report", *args]))
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.startswith(("otel-ml report: error:", "usage: otel-ml report"))
    assert not (tmp_path / "report.html").exists()


@pytest.mark.subprocess
def test_the_console_script_exits_2_on_a_missing_file(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "otel_ml.cli", "report", "a.json", "b.csv", "-o", "r.html"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "otel-ml report: error: a.json: no such file"


@pytest.mark.parametrize(
    ("fail_on", "code"), [([], 0), (["--fail-on", "drift"], 1), (["--fail-on", "warn"], 1)]
)
def test_fail_on_turns_a_drifted_file_into_exit_status_1(
    files: Path, tmp_path: Path, fail_on: list[str], code: int
) -> None:
    args = [str(files / "reference.json"), str(files / "current.csv")]
    assert main(["report", *args, "-o", str(tmp_path / "r.html"), *fail_on]) == code


def test_an_undrifted_file_passes_the_gate(files: Path, tmp_path: Path) -> None:
    same = tmp_path / "same.csv"
    _data(1200).to_csv(same, index=False)
    args = [str(files / "reference.json"), str(same), "-o", str(tmp_path / "r.json")]
    assert main(["report", *args, "--fail-on", "drift"]) == 0


def test_the_format_follows_the_output_name_and_dash_is_standard_output(
    files: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [str(files / "reference.json"), str(files / "current.csv")]
    assert main(["report", *args, "-o", str(tmp_path / "r.json")]) == 0
    assert json.loads((tmp_path / "r.json").read_text())["models"][0]["features"]
    capsys.readouterr()
    assert main(["report", *args, "-o", "-", "--format", "json"]) == 0
    printed = capsys.readouterr()
    assert json.loads(printed.out)["models"][0]["features"]
    assert "wrote standard output: 1200 rows" in printed.err
