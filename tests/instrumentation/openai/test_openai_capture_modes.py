"""``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``: util-genai's values and
the old booleans; a value otel_ml cannot use never leaves the SDK unpatched."""

from __future__ import annotations

import logging

import openai
import pytest
from support import Telemetry

from otel_ml import config
from otel_ml.config import Settings, SettingsError
from otel_ml.instrumentation.openai import instrument_openai
from otel_ml.instrumentation.openai.patch import PatchedCreate

VAR = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
MESSAGES = [{"role": "user", "content": "secret-question"}]


@pytest.mark.parametrize(
    ("value", "capture"),
    [("span_only", True), ("SPAN_AND_EVENT", True), ("event_only", False),
     ("no_content", False), ("true", True), ("1", True), ("false", False), ("", False)],
)  # fmt: skip
def test_util_genai_values_and_booleans(value: str, capture: bool) -> None:
    assert Settings.load(environ={VAR: value}).capture_content is capture


def test_a_bad_standard_value_is_logged_naming_the_variable_and_content_stays_off(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="otel_ml"):
        assert Settings.load(environ={VAR: "spans"}).capture_content is False
    (record,) = [r for r in caplog.records if VAR in r.getMessage()]
    assert "'spans'" in record.getMessage() and "span_only, span_and_event" in record.getMessage()


def test_a_bad_otel_ml_value_raises_naming_the_variable() -> None:
    with pytest.raises(SettingsError, match=r"OTEL_ML_CAPTURE_CONTENT='spans'.*span_only"):
        Settings.load(environ={"OTEL_ML_CAPTURE_CONTENT": "spans"})


def _process_env(monkeypatch: pytest.MonkeyPatch, value: str, var: str = VAR) -> None:
    monkeypatch.setenv(var, value)
    monkeypatch.setattr(config, "_loaded", None)
    monkeypatch.setattr(config, "_warned", set())


@pytest.mark.parametrize("var", [VAR, "OTEL_ML_CAPTURE_CONTENT"])
def test_a_bad_value_still_patches_create_and_logs_the_variable(
    telemetry: Telemetry, client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture, var: str,
) -> None:  # fmt: skip
    _process_env(monkeypatch, "spans", var)
    with caplog.at_level(logging.ERROR, logger="otel_ml"):
        undo = instrument_openai(**telemetry.providers)
    try:
        assert isinstance(openai.resources.chat.completions.Completions.__dict__["create"],
                          PatchedCreate)  # fmt: skip
        client.chat.completions.create(model="m1", messages=MESSAGES)
    finally:
        undo()
    (span,) = telemetry.spans()
    assert span.name == "chat m1"
    assert "gen_ai.input.messages" not in (span.attributes or {})  # the default: off
    assert any(var in r.getMessage() and "default" in r.getMessage() for r in caplog.records)


def test_span_only_from_the_process_environment_captures_on_spans(
    telemetry: Telemetry, client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    _process_env(monkeypatch, "span_only")
    undo = instrument_openai(**telemetry.providers)
    try:
        client.chat.completions.create(model="m1", messages=MESSAGES)
    finally:
        undo()
    (span,) = telemetry.spans()
    assert "secret-question" in str((span.attributes or {})["gen_ai.input.messages"])
