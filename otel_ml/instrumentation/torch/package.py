"""The library this instrumentation patches (read by the dependency check)."""

_instruments = ("torch >= 2.15",)
