"""The library this instrumentation hooks into (read by the dependency check)."""

_instruments = ("langchain-core >= 1.8",)
