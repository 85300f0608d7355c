"""Output understanding: pure functions that read any model output into class,
confidence and value (:class:`~otel_ml.outputs.extract.OutputSummary`), and the
capped label sets that keep those classes low-cardinality on metrics.

Shared by the inference hooks, ``wrap_model``, drift (prediction and score
distributions) and feedback (the join of labels to predictions); it imports
nothing of otel_ml but :mod:`otel_ml.semconv`.
"""
