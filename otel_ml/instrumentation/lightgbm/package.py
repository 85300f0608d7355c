"""The library this instrumentation patches (read by the dependency check)."""

_instruments = ("lightgbm >= 4.7",)
