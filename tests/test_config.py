"""Settings: precedence, parsing and errors that name their source."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from otel_ml.config import Settings, SettingsError, settings_table


def test_defaults_without_environment() -> None:
    settings = Settings.load(environ={})
    assert settings == Settings()
    assert settings.model_version == "unknown"
    assert settings.strict is False
    assert settings.max_class_labels == 50
    assert settings.prediction_id_header == "x-prediction-id"
    assert settings.capture_content is False


def test_environment_is_parsed() -> None:
    settings = Settings.load(
        environ={
            "OTEL_ML_MODEL_NAME": " fraud ",
            "OTEL_ML_MODEL_VERSION": "3",
            "OTEL_ML_STRICT": "yes",
            "OTEL_ML_MAX_CLASS_LABELS": "7",
            "OTEL_ML_PREDICTION_ID_HEADER": "X-Request-Prediction",
            "OTEL_ML_HTTP_ASGI_SPANS": "on",
        }
    )
    assert settings.model_name == "fraud"
    assert settings.model_version == "3"
    assert settings.strict is True
    assert settings.max_class_labels == 7
    assert settings.prediction_id_header == "x-request-prediction"
    assert settings.http_asgi_spans is True


def test_keyword_arguments_win_over_environment() -> None:
    env = {"OTEL_ML_MODEL_VERSION": "3", "OTEL_ML_MAX_CLASS_LABELS": "7"}
    settings = Settings.load(environ=env, model_version="4", max_class_labels=9)
    assert (settings.model_version, settings.max_class_labels) == ("4", 9)


def test_none_keyword_means_not_given() -> None:
    settings = Settings.load(environ={"OTEL_ML_MODEL_VERSION": "3"}, model_version=None)
    assert settings.model_version == "3"


def test_otel_ml_variable_wins_over_standard_otel_variable() -> None:
    fallback = {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true"}
    assert Settings.load(environ=fallback).capture_content is True
    both = {**fallback, "OTEL_ML_CAPTURE_CONTENT": "false"}
    assert Settings.load(environ=both).capture_content is False


@pytest.mark.parametrize(
    ("variable", "raw", "reason"),
    [
        ("OTEL_ML_MAX_CLASS_LABELS", "many", "whole number"),
        ("OTEL_ML_MAX_CLASS_LABELS", "0", ">= 1"),
        ("OTEL_ML_STRICT", "maybe", "true/false"),
        ("OTEL_ML_MODEL_VERSION", "  ", "non-empty"),
        ("OTEL_ML_PREDICTION_ID_HEADER", "x id", "header name"),
    ],
)
def test_bad_environment_value_names_the_variable(variable: str, raw: str, reason: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.load(environ={variable: raw})
    assert variable in str(info.value)
    assert repr(raw) in str(info.value)
    assert reason in str(info.value)


@pytest.mark.parametrize(
    ("argument", "value"),
    [("max_class_labels", "7"), ("max_class_labels", True), ("strict", 1), ("model_version", 3)],
)
def test_bad_keyword_argument_names_the_argument(argument: str, value: object) -> None:
    with pytest.raises(SettingsError, match=argument):
        Settings.load(environ={}, **{argument: value})


def test_unknown_keyword_is_rejected() -> None:
    with pytest.raises(SettingsError, match="unknown setting"):
        Settings.load(environ={}, model_nmae="typo")


def test_settings_are_frozen_and_replace_validates() -> None:
    settings = Settings.load(environ={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.model_version = "2"  # type: ignore[misc]
    assert settings.replace(model_version="2").model_version == "2"
    with pytest.raises(SettingsError, match="max_class_labels"):
        settings.replace(max_class_labels=0)


def test_every_setting_is_documented_once() -> None:
    rows = settings_table()
    variables = [row[0].split()[0] for row in rows]
    assert len(variables) == len(set(variables)) == len(dataclasses.fields(Settings))
    assert all(v.startswith("OTEL_ML_") for v in variables)
    assert all(row[2] for row in rows)


def test_readme_documents_every_setting() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    for variable, _, _ in settings_table():
        assert f"`{variable.split()[0]}`" in readme, variable
