"""The library this instrumentation patches (read by the dependency check)."""

_instruments = ("xgboost >= 3.2",)
