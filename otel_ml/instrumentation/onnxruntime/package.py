"""The library this instrumentation patches (read by the dependency check)."""

_instruments = ("onnxruntime >= 1.32",)
