"""The library this instrumentation patches (read by the dependency check)."""

_instruments = ("anthropic >= 2.17",)
