"""``otel-ml demo``: an instrumented classifier and RAG endpoint on 127.0.0.1,
three phases of traffic (normal, drift, late labels) and a live view of the
telemetry, with the alerts of ``prometheus/alerts.yml`` evaluated in-process."""
