"""The library this instrumentation patches (read by the dependency check)."""

_instruments = ("transformers >= 5.25",)
