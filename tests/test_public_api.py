"""The facade's exported names are a contract: changing them is a decision."""

from __future__ import annotations

import subprocess
import sys

import otel_ml


def test_public_names_are_pinned() -> None:
    assert sorted(otel_ml.__all__) == [
        "DriftMonitor",
        "InferenceInvocation",
        "InferenceScope",
        "InstrumentedModel",
        "ReferenceProfile",
        "Settings",
        "SettingsError",
        "__version__",
        "configure",
        "embedding",
        "generation",
        "inference",
        "instrument",
        "instrument_anthropic",
        "instrument_langchain",
        "instrument_litellm",
        "instrument_llamaindex",
        "instrument_openai",
        "last_prediction_id",
        "llm",
        "load_model",
        "record_feedback",
        "reset_segments",
        "retrieval",
        "set_segments",
        "wrap_model",
    ]
    for name in otel_ml.__all__:
        assert getattr(otel_ml, name) is not None


def test_public_callables_are_documented() -> None:
    for name in otel_ml.__all__:
        obj = getattr(otel_ml, name)
        if callable(obj):
            assert obj.__doc__, name


def test_the_package_imports_without_any_optional_library() -> None:
    """`import otel_ml` and the CLI need only the base install: every hook's
    library is imported when it is instrumented, never at import time."""
    optional = [
        "sklearn", "openai", "fastapi", "starlette", "xgboost", "lightgbm", "onnxruntime",
        "transformers", "torch", "catboost", "anthropic", "litellm", "langchain_core",
        "langchain_openai", "llama_index", "redis", "uvicorn", "httpx", "pandas",
    ]  # fmt: skip
    script = (
        "import sys\n"
        f"blocked = {optional!r}\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in blocked:\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import otel_ml, otel_ml.cli, otel_ml.sdk\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
