"""The library this instrumentation patches (read by the dependency check)."""

_instruments = ("litellm >= 1.110",)
