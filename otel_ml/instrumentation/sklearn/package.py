"""The library this instrumentation patches (read by the dependency check)."""

_instruments = ("scikit-learn >= 1.3.1",)
