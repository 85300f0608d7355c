"""The model entry points: where settings are resolved and sinks attached.

``wrap_model``, ``inference``, ``load_model`` (and, through
:func:`~otel_ml.models.sinks.model_for`, the FastAPI one-liner and the
library hooks) resolve the settings once, get the model's shared
:class:`~otel_ml.inference.model.ModelContext` and attach to it the sinks the
settings and arguments ask for: the drift monitor and the feedback recorder.
This is the only package that imports both the inference core and the sinks.
"""
