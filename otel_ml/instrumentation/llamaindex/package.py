"""The library this instrumentation hooks into (read by the dependency check)."""

_instruments = ("llama-index-core >= 0.14.25",)
