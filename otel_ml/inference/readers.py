"""Call readers of xgboost and lightgbm boosters and ONNX Runtime sessions.

Their outputs read differently by call: a booster's ``predict`` returns
probabilities, or margins with ``output_margin=True``; a session's ``run``
returns the outputs the call asked for, and its rows are in the input feed,
not the first argument. A :data:`~otel_ml.inference.call.CallReader` reads
each call's arguments; the model facts behind it (the booster's objective,
the session's outputs) are read once per model object. ``wrap_model`` and the
library hooks use the same readers, so both record the same values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, get_args

from otel_ml.inference.call import CallReader, CallReading, rows_of
from otel_ml.inference.invocation import Summarizer
from otel_ml.inference.model import ModelContext
from otel_ml.outputs.boosters import (
    LIGHTGBM_OBJECTIVE,
    XGBOOST_OBJECTIVE,
    OutputKind,
    lightgbm_kind,
    summarize_booster,
    xgboost_kind,
)
from otel_ml.outputs.extract import OutputSummary, Task
from otel_ml.outputs.memo import PerObject
from otel_ml.outputs.onnx import OnnxLayout, onnx_layout, summarize_onnx

__all__ = ["ReaderFactory", "lightgbm_reader", "onnx_method_reader", "onnx_reader",
           "xgboost_reader"]  # fmt: skip

ReaderFactory = Callable[[str, Any, "Task | None"], CallReader]
"""``(operation, model, task)`` -> the reader of that operation's calls."""


def _booster_summarizer(kind: OutputKind) -> Summarizer:
    def summarize(model: ModelContext, output: Any) -> OutputSummary:
        return summarize_booster(output, kind, model.max_rows_recorded)

    return summarize


_BOOSTER_SUMMARIZERS = {kind: _booster_summarizer(kind) for kind in get_args(OutputKind)}


def xgboost_reader(operation: str, booster: Any, task: Task | None) -> CallReader:
    """Reads ``Booster.predict(data, *, output_margin=..., ...)`` and
    ``Booster.inplace_predict(data, *, predict_type=..., ...)`` calls."""

    def read(args: tuple[Any, ...], kwargs: dict[str, Any]) -> CallReading:
        kind = xgboost_kind(XGBOOST_OBJECTIVE(booster), operation, kwargs, task)
        data = args[0] if args else kwargs.get("data")
        num_row = getattr(data, "num_row", None)
        if callable(num_row):  # a DMatrix: rows known, features not readable as rows
            return None, int(num_row()), _BOOSTER_SUMMARIZERS[kind]
        return data, rows_of((data,)), _BOOSTER_SUMMARIZERS[kind]

    return read


def lightgbm_reader(operation: str, booster: Any, task: Task | None) -> CallReader:
    """Reads ``Booster.predict(data, start_iteration, num_iteration, raw_score,
    pred_leaf, pred_contrib, ...)`` calls."""

    def read(args: tuple[Any, ...], kwargs: dict[str, Any]) -> CallReading:
        kind = lightgbm_kind(LIGHTGBM_OBJECTIVE(booster), args, kwargs, task)
        data = args[0] if args else kwargs.get("data")
        if isinstance(data, str) or hasattr(data, "__fspath__"):
            return None, None, _BOOSTER_SUMMARIZERS[kind]  # a file to predict on
        return data, rows_of((data,)), _BOOSTER_SUMMARIZERS[kind]

    return read


ONNX_LAYOUT: PerObject[OnnxLayout] = PerObject(lambda session: onnx_layout(session.get_outputs()))
"""A session's output roles, read once per session."""


def onnx_reader(operation: str, session: Any, task: Task | None) -> CallReader:
    """Reads ``InferenceSession.run(output_names, input_feed, run_options=None)``
    calls: the rows are the first value of the input feed."""

    def read(args: tuple[Any, ...], kwargs: dict[str, Any]) -> CallReading:
        requested = args[0] if args else kwargs.get("output_names")
        feed = args[1] if len(args) > 1 else kwargs.get("input_feed")
        layout = ONNX_LAYOUT(session)
        names = tuple(requested) if requested else None

        def summarize(model: ModelContext, output: Any) -> OutputSummary | None:
            return summarize_onnx(layout, names, output, model.max_rows_recorded)

        if not isinstance(feed, dict) or not feed:
            return None, None, summarize
        rows = next(iter(feed.values()))
        return rows, rows_of((rows,)), summarize

    return read


def onnx_method_reader(operation: str, method: Any, task: Task | None) -> CallReader:
    """Reads calls of a session's bound ``run`` wrapped on its own."""
    return onnx_reader(operation, method.__self__, task)
