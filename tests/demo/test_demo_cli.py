"""`otel-ml demo` end to end in a subprocess: every section of the view, the drift
phase flagged, a clean exit on SIGINT, OTLP export, --serve until SIGTERM, and the
CLI's help and argument errors."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from otlp_receiver import GrpcReceiver

OTEL_ML = str(Path(sys.executable).with_name("otel-ml"))
NUMBER = r"([0-9][0-9,]*(?:\.[0-9]+)?)"  # "#" in the patterns below


def _run(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [OTEL_ML, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def _numbers(pattern: str, text: str) -> list[float]:
    found = re.search(pattern.replace("#", NUMBER), text)
    assert found, f"{pattern!r} not in:\n{text}"
    return [float(group.replace(",", "")) for group in found.groups()]


def _wait_for(log: Path, text: str, process: subprocess.Popen[bytes], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while text not in log.read_text() and time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        time.sleep(0.2)
    out = log.read_text()
    assert text in out, out
    return out


def test_demo_shows_every_section_and_flags_the_drift_phase() -> None:
    done = _run("demo", "--duration", "10", "--no-tty", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    out = done.stdout
    # Plain lines, no terminal escapes, one announcement per phase.
    assert "\x1b[" not in out
    for phase in ("1/3 normal", "2/3 drift", "3/3 labels"):
        assert f"-- phase {phase}:" in out
    view = out.split("phase 3/3  labels")[-1]  # the final frame, printed in full

    rate, p50, p95, p99 = _numbers(r"requests +#/s .* p50 # ms +p95 # ms +p99 # ms", view)
    assert rate > 0
    assert 0 < p50 <= p95 <= p99
    high, mid, low = _numbers(r"confidence +>0.9 +#% +0.6-0.9 +#% +<=0.6 +#%", view)
    assert high > 0
    assert high + mid + low == pytest.approx(100, abs=0.3)
    accuracy, labels, baseline = _numbers(r"accuracy +# over the last # labels +baseline #", view)
    assert 0 < accuracy < baseline  # the drifted rows' labels arrived
    assert labels > 0
    psi, ks, js = _numbers(r"worst texture +psi +# +ks +# +js +# +DRIFT", view)
    assert psi > 0.25
    assert ks > 0.1
    assert js > 0.1
    assert re.search(r"site +psi +[0-9.]+ +js +[0-9.]+ +DRIFT", view), view  # new category
    unseen = _numbers(r"\b# unseen_category \(site\)", view)
    assert unseen[0] > 0
    answers, ttft_p50, tokens_in, tokens_out = _numbers(
        r"LLM +stand-in LLM +# answers +TTFT p50 # ms .* tokens in # out #", view
    )
    assert answers > 0
    assert ttft_p50 > 0
    assert tokens_in > 0
    assert tokens_out > 0
    # The stand-in judges every answer's groundedness; the asker rates each one.
    grounded, judged, rated_mean, rated = _numbers(
        r"answers +groundedness # \(# judged\) +user_feedback # \(# rated\)", view
    )
    assert 0.5 < grounded <= 1 and judged > 0 and 0 <= rated_mean <= 1 and rated > 0
    assert "alerts (evaluated in-process)" in view
    assert re.search(r"(pending|FIRING) +MLFeatureDrift +(worst texture|site) ", view), view

    summary = out.split("\nSummary\n")[1]
    requests, rows, rejected, bad = _numbers(
        r"# prediction requests \(# rows\), # rejected \(# carried the NaN", summary
    )
    assert requests > 0
    assert rows > requests  # every fifth request is a batch
    assert rejected == bad  # the only rejections: the NaN rows (one in 200 requests)
    assert re.search(r"drift flagged from [0-9]+ s: .*worst texture", summary), summary
    # A window of 500 values can flag a feature by chance (about 1% per window),
    # but not the shifted one or the site before the drift starts.
    normal = out.split("-- phase 1/3")[1].split("-- phase 2/3")[0]
    assert not re.search(r"drift: [^|]*(worst texture|site)", normal), normal
    after, baseline = _numbers(r"accuracy: .* before the drift, # at the end; baseline #", summary)
    assert after < baseline
    assert re.search(r"answer scores \(mean, 0-1\): groundedness [0-9.]+ \([0-9]+ judged\)",
                     summary), summary  # fmt: skip
    assert "Where to look next" in out


def test_sigint_stops_the_demo_cleanly(tmp_path: Path) -> None:
    log = tmp_path / "demo.out"
    with log.open("w") as stdout:
        process = subprocess.Popen(
            [OTEL_ML, "demo", "--duration", "60", "--no-tty"],
            stdout=stdout,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, to look for leftovers
        )
    try:
        _wait_for(log, "-- phase 1/3", process, timeout=120)
        time.sleep(1.0)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 130
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    out = log.read_text()
    assert "Traceback" not in out, out
    assert "Interrupted (Ctrl-C): the traffic stopped early." in out
    assert "\nSummary\n" in out
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)  # no process of the group is left


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "required: COMMAND"),
        (("fly",), "invalid choice"),
        (("demo", "--duration", "0"), "expected between 5 and 86400 seconds"),
        (("demo", "--duration", "soon"), "expected a number of seconds"),
        (("demo", "--otlp-endpoint", "collector:4317"), "expected a URL"),
        (("demo", "--requests", "40"), "unrecognized arguments: --requests"),
    ],
)
def test_cli_rejects_bad_arguments_with_exit_code_2(args: tuple[str, ...], message: str) -> None:
    done = _run(*args)
    assert done.returncode == 2
    assert message in done.stderr
    assert "usage: otel-ml" in done.stderr


def test_help_documents_the_commands_and_every_demo_option() -> None:
    top = _run("--help")
    assert top.returncode == 0
    assert re.search(r"demo +serve an instrumented", top.stdout)
    assert re.search(r"profile +profile training data", top.stdout)
    demo = _run("demo", "--help")
    assert demo.returncode == 0
    for option in ("--duration SECONDS", "--otlp-endpoint URL", "--serve", "--no-tty"):
        assert option in demo.stdout
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" in demo.stdout


def test_the_demo_exports_over_otlp_to_the_standard_endpoint_variable() -> None:
    with GrpcReceiver() as receiver:
        env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint}
        done = subprocess.run(
            [OTEL_ML, "demo", "--duration", "5", "--no-tty"],
            capture_output=True, text=True, timeout=120, check=False, env=env,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"the same telemetry went over OTLP/gRPC to {receiver.endpoint}" in done.stdout
        spans = receiver.spans()
        metrics = receiver.metric_names()
    assert {resource["service.name"] for resource, _ in spans} == {"otel-ml-demo"}
    names = {span.name for _, span in spans}
    expected_spans = {
        "POST /predict", "predict_proba breast-cancer-classifier", "POST /ask",
        "embeddings hashing-embedder", "retrieval demo-notes", "chat stand-in-llm",
        "feedback breast-cancer-classifier",
    }  # fmt: skip
    assert expected_spans <= names, sorted(names)
    expected_metrics = {
        "ml.inference.duration", "ml.prediction.confidence", "ml.feedback.outcomes",
        "gen_ai.client.operation.time_to_first_chunk", "gen_ai.client.token.usage",
    }  # fmt: skip
    assert expected_metrics <= set(metrics), sorted(metrics)


def test_serve_keeps_the_app_up_until_sigterm(tmp_path: Path) -> None:
    log = tmp_path / "demo.out"
    with log.open("w") as stdout:
        process = subprocess.Popen(
            [OTEL_ML, "demo", "--duration", "5", "--no-tty", "--serve"],
            stdout=stdout,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        out = _wait_for(log, "the stand-in LLM (OpenAI-compatible)", process, timeout=120)
        base_url = _app_url(out)
        assert base_url.startswith("http://127.0.0.1:")  # loopback only
        with httpx.Client(base_url=base_url, timeout=10) as client:
            answer = client.post("/ask", json={"question": "what is PSI?"})
            assert answer.status_code == 200
            assert answer.json()["answer"].startswith('According to "Population stability index"')
            assert client.get("/ml/drift", params={"format": "json"}).status_code == 200
        process.send_signal(signal.SIGTERM)  # docker stop
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    assert "Traceback" not in log.read_text()
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)


def _app_url(out: str) -> str:
    found = re.search(r"^  (http://[0-9.]+:[0-9]+)/docs  the OpenAPI page", out, re.MULTILINE)
    assert found, out
    return found.group(1)


@pytest.mark.subprocess
def test_a_missing_demo_requirement_is_named_with_the_extra_not_a_traceback() -> None:
    # httpx stands for any library of the `demo` extra the base install lacks.
    blocked = (
        "import sys; sys.modules['httpx'] = None\n"
        "from otel_ml.cli import main\n"
        "sys.exit(main(['demo', '--duration', '5', '--no-tty']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", blocked], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "otel-ml demo needs httpx: pip install 'otel-ml[demo]'" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.subprocess
def test_a_reader_that_goes_away_ends_the_demo_without_a_traceback() -> None:
    command = [sys.executable, "-m", "otel_ml.cli", "demo", "--duration", "20", "--no-tty"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        assert process.stdout is not None and process.stderr is not None
        process.stdout.readline()
        process.stdout.close()  # like `| head -1`
        err = process.stderr.read().decode()
        assert process.wait(timeout=60) == 1
    assert "Traceback" not in err and "BrokenPipeError" not in err
