"""The library this instrumentation patches (read by the dependency check)."""

_instruments = ("openai >= 1.40",)
