"""Every attribute, span and metric name otel_ml emits, in one place.

These names are a contract with the Prometheus rules and the Grafana dashboard
shipped in this repository: change them only together with ``prometheus/``,
``grafana/`` and the README.

Cardinality notes say where a name may go. *Span only* attributes are
unbounded (ids, values) and never appear on metrics; *metric* attributes are
bounded by construction (model identity, capped class labels, enums).
"""

from __future__ import annotations

from typing import Final

# --- model identity (metric + span; bounded: one per deployed model) ------------
ML_MODEL_NAME: Final = "ml.model.name"
"""Logical model name, e.g. ``fraud-model``."""
ML_MODEL_VERSION: Final = "ml.model.version"
"""Model version, e.g. ``3`` or a registry tag. ``unknown`` when not configured."""
ML_OPERATION_NAME: Final = "ml.operation.name"
"""The invoked operation: ``predict``, ``predict_proba``, ``decision_function``, ``call``."""

# --- per-call attributes (span only; unbounded) ----------------------------------
ML_BATCH_SIZE: Final = "ml.batch.size"
"""Number of rows in the call's input (int). Span only."""
ML_PREDICTION_ID: Final = "ml.prediction.id"
"""Opaque id joining this prediction to later feedback. Span only (unique per call)."""
ML_PREDICTION_CLASS: Final = "ml.prediction.class"
"""Predicted class label as a string (single-row calls). On spans; on the
``ml.predictions`` metric capped to a bounded set plus ``__other__``."""
ML_PREDICTION_VALUE: Final = "ml.prediction.value"
"""Predicted value of a regression (single-row calls, float). Span only."""
ML_PREDICTION_CONFIDENCE: Final = "ml.prediction.confidence"
"""Confidence in [0, 1], the max class probability (single-row calls). Span only."""
ML_PREDICTION_CLASSES: Final = "ml.prediction.classes"
"""Batch calls: the distinct predicted classes (string array, at most 10). Span only."""
ML_PREDICTION_CONFIDENCE_MIN: Final = "ml.prediction.confidence.min"
"""Batch calls: lowest row confidence. Span only."""
ML_PREDICTION_CONFIDENCE_MEAN: Final = "ml.prediction.confidence.mean"
"""Batch calls: mean row confidence. Span only."""
ML_PREDICTION_VALUE_MEAN: Final = "ml.prediction.value.mean"
"""Batch regression calls: mean predicted value. Span only."""
ML_MODEL_FRAMEWORK: Final = "ml.model.framework"
"""Framework of the model, e.g. ``sklearn``: on load spans and ``ml.model.info``."""

# --- data quality (metric; bounded enums) ----------------------------------------
ML_FEATURE_NAME: Final = "ml.feature.name"
"""Feature name (bounded by the model's schema). Pseudo-features for outputs
start with ``__``, e.g. ``__confidence__``."""
ML_DATA_ISSUE: Final = "ml.data.issue"
"""Kind of data-quality issue: one of :data:`DATA_ISSUES`."""
DATA_ISSUES: Final = ("missing", "non_finite", "out_of_range", "unseen_category", "type")
TYPE_ISSUE: Final = "type"
"""``ml.data.issue`` of a value of the wrong kind: a confidence that is no number,
a prediction that cannot be a class (a dict, a list, a fractional float)."""
CONFIDENCE_FEATURE: Final = "__confidence__"
"""Pseudo-feature name under which invalid confidences are counted."""
SCORE_FEATURE: Final = "__score__"
"""Pseudo-feature of the drift monitor: the prediction score / confidence."""
PREDICTION_FEATURE: Final = "__prediction__"
"""Pseudo-feature of the drift monitor: the predicted class."""

INPUT_FEATURE: Final = "__input__"
"""Pseudo-feature under which inputs that do not fit the profile are counted."""
SCHEMA_ISSUE: Final = "schema"
"""``ml.data.issue`` of an input whose shape or columns do not fit the profile."""

# --- drift (metric; bounded by the profile) ----------------------------------------
ML_DRIFT_METHOD: Final = "ml.drift.method"
"""Drift statistic: one of :data:`DRIFT_METHODS`."""
DRIFT_METHODS: Final = ("psi", "ks", "chi2", "js", "missing")
DRIFT_STATUS: Final = {"ok": 0, "warn": 1, "drift": 2}
"""Value of ``ml.drift.status`` and ``ml.drift.missing.status`` per verdict."""
ML_DRIFT_BIN: Final = "ml.drift.bin"
"""Coarse bin of a feature: ``lt:<edge>``, ``<a>..<b>``, ``ge:<edge>`` or a category."""

# --- feedback (delayed ground truth) --------------------------------------------
ML_FEEDBACK_OUTCOME: Final = "ml.feedback.outcome"
"""``correct`` or ``incorrect``: a classification label against its prediction."""
ML_FEEDBACK_UNMATCHED_REASON: Final = "ml.feedback.unmatched.reason"
"""Why a label found no prediction: ``unknown``, ``expired``, ``duplicate`` or
``store_unavailable`` (a shared store could not be asked)."""
ML_FEEDBACK_STORE: Final = "ml.feedback.store"
"""Shared prediction store backend: ``sqlite`` or ``redis``."""
ML_FEEDBACK_STORE_OPERATION: Final = "ml.feedback.store.operation"
"""``write`` (predictions not stored) or ``join`` (labels not checked)."""
ML_FEEDBACK_DELAY_ATTRIBUTE: Final = "ml.feedback.delay"
"""Seconds between the prediction and its label (span attribute)."""
ML_FEEDBACK_ERROR_ATTRIBUTE: Final = "ml.feedback.error"
"""Absolute error of a regression prediction (span attribute)."""
ML_SEGMENT_PREFIX: Final = "ml.segment."
"""Prefix of the user's segment attributes (configured names, capped values)."""

# --- generic -----------------------------------------------------------------
ERROR_TYPE: Final = "error.type"
"""Fully qualified exception class of a failed call (OTel general semconv)."""
OTHER_LABEL: Final = "__other__"
"""Replaces a class label or category once the bounded label set is full."""
UNPRINTABLE: Final = "<unprintable>"
"""The label or category of a value whose ``str()`` fails."""
COMPONENT: Final = "component"
"""otel_ml component whose telemetry code failed (``otel_ml.internal.errors``)."""
EXPORT_SIGNAL: Final = "signal"
"""``traces`` or ``metrics``: the signal of a failed export (``otel_ml.export.failures``)."""

# --- metrics --------------------------------------------------------------------
ML_INFERENCE_DURATION: Final = "ml.inference.duration"
"""Histogram, seconds. Attributes: model name/version, operation, ``error.type`` on failure."""
ML_INFERENCE_ACTIVE: Final = "ml.inference.active"
"""Observable up-down counter, ``{request}``. In-flight calls per model name/version."""
ML_PREDICTION_CONFIDENCE_METRIC: Final = "ml.prediction.confidence"
"""Histogram, ``1``. One record per row (bounded per call). Model name/version."""
ML_PREDICTIONS: Final = "ml.predictions"
"""Observable counter, ``{prediction}``. Rows predicted per model name/version and
``ml.prediction.class`` (capped)."""
ML_DATA_QUALITY_ISSUES: Final = "ml.data.quality.issues"
"""Counter, ``{issue}``. Model name/version, ``ml.feature.name``, ``ml.data.issue``."""
OTEL_ML_INTERNAL_ERRORS: Final = "otel_ml.internal.errors"
"""Counter, ``{error}``. Telemetry failures swallowed by otel_ml, per ``component``."""
OTEL_ML_EXPORT_FAILURES: Final = "otel_ml.export.failures"
"""Counter, ``{export}``. Exports that failed (batch dropped), per ``signal``; counted
by the exporters :func:`otel_ml.configure` builds."""

ML_DRIFT_SCORE: Final = "ml.drift.score"
"""Observable gauge, ``1``. Last completed window's score per feature and ``ml.drift.method``."""
ML_DRIFT_STATUS: Final = "ml.drift.status"
"""Observable gauge, no unit (Prometheus: ``ml_drift_status``). Last completed window's
distribution verdict per feature: 0 ok, 1 warn, 2 drift; no point while too small to judge."""
ML_DRIFT_MISSING_STATUS: Final = "ml.drift.missing.status"
"""Observable gauge, no unit. The same verdict on the feature's share of missing values."""
ML_DRIFT_WINDOW_SIZE: Final = "ml.drift.window.size"
"""Observable gauge, ``{value}``. Valid values per feature behind the last score."""
ML_DRIFT_BIN_COUNT: Final = "ml.drift.bin.count"
"""Observable counter, ``{value}``. Values per feature and ``ml.drift.bin`` since start."""
ML_DRIFT_REFERENCE_FRACTION: Final = "ml.drift.reference.fraction"
"""Observable gauge, ``1``. Reference fraction per feature and ``ml.drift.bin``."""

ML_FEEDBACK_OUTCOMES: Final = "ml.feedback.outcomes"
"""Counter, ``{label}``. Model name/version, ``ml.feedback.outcome``, segments."""
ML_FEEDBACK_ERROR: Final = "ml.feedback.error"
"""Histogram, model output units. Absolute error of labelled regression predictions."""
ML_FEEDBACK_DELAY: Final = "ml.feedback.delay"
"""Histogram, seconds. Time from prediction to label."""
ML_FEEDBACK_UNMATCHED: Final = "ml.feedback.unmatched"
"""Counter, ``{label}``. Labels that found no prediction, per ``ml.feedback.unmatched.reason``."""
ML_FEEDBACK_STORE_ERRORS: Final = "ml.feedback.store.errors"
"""Observable counter, ``{item}``. Predictions a shared store did not keep and labels it
could not check, per ``ml.feedback.store`` and ``ml.feedback.store.operation``."""
ML_FEEDBACK_ACCURACY: Final = "ml.feedback.accuracy"
"""Observable gauge, ``1``. Accuracy over the last labelled predictions (sliding window)."""
ML_FEEDBACK_PRECISION: Final = "ml.feedback.precision"
"""Observable gauge, ``1``. Precision per ``ml.prediction.class`` over the window."""
ML_FEEDBACK_RECALL: Final = "ml.feedback.recall"
"""Observable gauge, ``1``. Recall per ``ml.prediction.class`` over the window."""
ML_FEEDBACK_MAE: Final = "ml.feedback.mae"
"""Observable gauge. Mean absolute error over the window."""
ML_FEEDBACK_WINDOW_SIZE: Final = "ml.feedback.window.size"
"""Observable gauge, ``{label}``. Labels behind the sliding-window gauges."""
ML_FEEDBACK_BASELINE: Final = "ml.feedback.baseline"
"""Observable gauge, ``1``. Offline accuracy of the model (reference profile metadata)."""

# Explicit bucket boundaries, seconds: 0.5 ms to 10 s, roughly x2 per step.
INFERENCE_DURATION_BUCKETS: Final = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
FEEDBACK_DELAY_BUCKETS: Final = (
    1, 10, 60, 300, 900, 3600, 4 * 3600, 12 * 3600, 86400, 3 * 86400, 7 * 86400, 30 * 86400,
)  # fmt: skip
CONFIDENCE_BUCKETS: Final = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)

# --- span names ----------------------------------------------------------------


def inference_span_name(operation: str, model_name: str) -> str:
    """Span name of an inference call: ``{ml.operation.name} {ml.model.name}``."""
    return f"{operation} {model_name}"


def feedback_span_name(model_name: str | None) -> str:
    """Span name of a label: ``feedback {ml.model.name}`` (``feedback`` when unmatched)."""
    return f"feedback {model_name}" if model_name else "feedback"


# --- GenAI (OpenTelemetry GenAI semantic conventions, v1.41 names) --------------
# Span attributes unless noted. Metric attributes: the bounded subset GenAIInvocation
# keeps (operation, provider, request/response model, server address/port, error.type).
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
"""``chat``, ``text_completion``, ``embeddings``, ``retrieval`` (metric + span)."""
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
"""Telemetry flavour of the provider, e.g. ``openai`` (metric + span)."""
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
"""Model the request asked for (metric + span)."""
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
"""Model that answered (metric + span)."""
GEN_AI_RESPONSE_ID: Final = "gen_ai.response.id"
"""Provider's completion id. Span only."""
GEN_AI_RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
"""One finish reason per choice (string array). Span only."""
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
"""Input tokens as reported by the provider, never estimated. Span only."""
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
"""Output tokens as reported by the provider, never estimated. Span only."""
GEN_AI_REQUEST_TEMPERATURE: Final = "gen_ai.request.temperature"
GEN_AI_REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_TOP_P: Final = "gen_ai.request.top_p"
GEN_AI_REQUEST_TOP_K: Final = "gen_ai.request.top_k"
"""Documents asked of a retrieval, or the sampling top-k of a generation."""
GEN_AI_REQUEST_SEED: Final = "gen_ai.request.seed"
GEN_AI_REQUEST_STOP_SEQUENCES: Final = "gen_ai.request.stop_sequences"
GEN_AI_REQUEST_CHOICE_COUNT: Final = "gen_ai.request.choice.count"
"""``n`` of the request, set only when it is not 1."""
GEN_AI_REQUEST_FREQUENCY_PENALTY: Final = "gen_ai.request.frequency_penalty"
GEN_AI_REQUEST_PRESENCE_PENALTY: Final = "gen_ai.request.presence_penalty"
GEN_AI_REQUEST_ENCODING_FORMATS: Final = "gen_ai.request.encoding_formats"
GEN_AI_REQUEST_STREAM: Final = "gen_ai.request.stream"
"""Whether the response was requested as a stream (bool)."""
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: Final = "gen_ai.response.time_to_first_chunk"
"""Seconds from the request to the first chunk with output. Span only."""
GEN_AI_EMBEDDINGS_DIMENSION_COUNT: Final = "gen_ai.embeddings.dimension.count"
GEN_AI_DATA_SOURCE_ID: Final = "gen_ai.data_source.id"
"""Id of the store a retrieval searched, e.g. a vector index name."""
GEN_AI_INPUT_MESSAGES: Final = "gen_ai.input.messages"
"""Content (opt-in only): the input messages as semconv JSON."""
GEN_AI_OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
"""Content (opt-in only): the output messages as semconv JSON."""
GEN_AI_RETRIEVAL_QUERY_TEXT: Final = "gen_ai.retrieval.query.text"
"""Content (opt-in only): the retrieval query."""
GEN_AI_RETRIEVAL_DOCUMENTS: Final = "gen_ai.retrieval.documents"
"""Content (opt-in only): ``[{"id": ..., "score": ...}]`` of retrieved documents, as JSON."""
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
"""Input tokens served from the provider's prompt cache, when reported. Span only."""
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: Final = "gen_ai.usage.reasoning.output_tokens"
"""Output tokens spent on reasoning, when reported. Span only."""
GEN_AI_OUTPUT_TYPE: Final = "gen_ai.output.type"
"""``text`` or ``json``: the output format the request asked for, when it asked."""
GEN_AI_SYSTEM_INSTRUCTIONS: Final = "gen_ai.system_instructions"
"""Content (opt-in only): instructions given apart from the messages, as semconv JSON parts."""
GEN_AI_TOOL_DEFINITIONS: Final = "gen_ai.tool.definitions"
"""Opt-in (with content): the tools the request offered, as JSON."""
GEN_AI_PROVIDER_OTHER: Final = "_OTHER"
"""``gen_ai.provider.name`` of a call whose provider the caller did not name."""
OPENAI_API_TYPE: Final = "openai.api.type"
"""``chat_completions`` or ``responses``. Span only."""
OPENAI_REQUEST_SERVICE_TIER: Final = "openai.request.service_tier"
"""Service tier the request asked for (not set for ``auto``). Span only."""
OPENAI_RESPONSE_SERVICE_TIER: Final = "openai.response.service_tier"
"""Service tier that served the response (metric + span)."""
OPENAI_RESPONSE_SYSTEM_FINGERPRINT: Final = "openai.response.system_fingerprint"
"""Backend configuration fingerprint of the response (metric + span)."""
GEN_AI_TOKEN_TYPE: Final = "gen_ai.token.type"
"""``input`` or ``output`` on ``gen_ai.client.token.usage`` (metric)."""
SERVER_ADDRESS: Final = "server.address"
"""Host of the GenAI endpoint, from the client's base URL (metric + span)."""
SERVER_PORT: Final = "server.port"
"""Port of the GenAI endpoint (metric + span)."""
# Framework hooks (Anthropic, LiteLLM, LangChain, LlamaIndex): cache writes, tool runs.
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: Final = "gen_ai.usage.cache_creation.input_tokens"
"""Input tokens written to the provider's prompt cache (included in the input
tokens). Span only."""
GEN_AI_TOOL_NAME: Final = "gen_ai.tool.name"
"""Name of the tool an ``execute_tool`` span runs."""
GEN_AI_TOOL_CALL_ID: Final = "gen_ai.tool.call.id"
"""Id of the model's tool call an ``execute_tool`` span answers, where known."""
GEN_AI_TOOL_TYPE: Final = "gen_ai.tool.type"
"""``function`` (a tool the application runs)."""
GEN_AI_TOOL_CALL_ARGUMENTS: Final = "gen_ai.tool.call.arguments"
"""Content (opt-in only): the arguments a tool ran with."""
GEN_AI_TOOL_CALL_RESULT: Final = "gen_ai.tool.call.result"
"""Content (opt-in only): what a tool returned."""
ML_EMBEDDINGS_INPUT_COUNT: Final = "ml.embeddings.input.count"
"""Inputs embedded in one call (no semconv name yet). Span only."""
ML_RETRIEVAL_DOCUMENTS_COUNT: Final = "ml.retrieval.documents.count"
"""Documents a retrieval returned (no semconv name yet). Span only."""
ML_RETRIEVAL_SCORE_MIN: Final = "ml.retrieval.score.min"
"""Lowest score among the returned documents. Span only."""
ML_RETRIEVAL_SCORE_MAX: Final = "ml.retrieval.score.max"
"""Highest score among the returned documents. Span only."""

GEN_AI_CHAT: Final = "chat"
GEN_AI_TEXT_COMPLETION: Final = "text_completion"
GEN_AI_EMBEDDINGS: Final = "embeddings"
GEN_AI_RETRIEVAL: Final = "retrieval"
GEN_AI_EXECUTE_TOOL: Final = "execute_tool"
GEN_AI_TOKEN_INPUT: Final = "input"
GEN_AI_TOKEN_OUTPUT: Final = "output"

GEN_AI_CLIENT_OPERATION_DURATION: Final = "gen_ai.client.operation.duration"
"""Histogram, seconds. Every GenAI client call, ``error.type`` on failure."""
GEN_AI_CLIENT_TOKEN_USAGE: Final = "gen_ai.client.token.usage"
"""Histogram, ``{token}``. One record per ``gen_ai.token.type`` the provider reported."""
GEN_AI_CLIENT_TIME_TO_FIRST_CHUNK: Final = "gen_ai.client.operation.time_to_first_chunk"
"""Histogram, seconds. Streams: request to the first chunk with output."""
GEN_AI_CLIENT_TIME_PER_OUTPUT_CHUNK: Final = "gen_ai.client.operation.time_per_output_chunk"
"""Histogram, seconds. Streams: gap before each output chunk after the first."""
GEN_AI_SERVER_REQUEST_DURATION: Final = "gen_ai.server.request.duration"
"""Histogram, seconds. The app is the model server: request to last token."""
GEN_AI_SERVER_TIME_TO_FIRST_TOKEN: Final = "gen_ai.server.time_to_first_token"
"""Histogram, seconds. The app is the model server: request to first token."""
GEN_AI_SERVER_TIME_PER_OUTPUT_TOKEN: Final = "gen_ai.server.time_per_output_token"
"""Histogram, seconds. The app is the model server: mean gap per token after the first."""

# Bucket advisories of the GenAI semantic conventions.
GEN_AI_DURATION_BUCKETS: Final = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
GEN_AI_TOKEN_BUCKETS: Final = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip
GEN_AI_FIRST_CHUNK_BUCKETS: Final = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)  # fmt: skip
GEN_AI_CLIENT_CHUNK_BUCKETS: Final = GEN_AI_DURATION_BUCKETS
"""Client time to first chunk and time per output chunk: the conventions advise
the duration buckets (the server's TTFT buckets stop at 10 s)."""
GEN_AI_PER_TOKEN_BUCKETS: Final = (
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5,
)  # fmt: skip


def genai_span_name(operation: str, model: str | None) -> str:
    """Span name of a GenAI call: ``{gen_ai.operation.name} {gen_ai.request.model}``."""
    return f"{operation} {model}" if model else operation


def retrieval_span_name(data_source: str | None) -> str:
    """Span name of a retrieval: ``retrieval {gen_ai.data_source.id}``."""
    return f"{GEN_AI_RETRIEVAL} {data_source}" if data_source else GEN_AI_RETRIEVAL


# --- resources: process, GPU, model lifecycle -----------------------------------
# Process and hardware names are the OpenTelemetry semantic conventions; the
# process ones come from opentelemetry-instrumentation-system-metrics, except
# the file descriptor count, for which it still emits a deprecated name.
PROCESS_CPU_TIME: Final = "process.cpu.time"
"""Observable counter, seconds. CPU time of this process per ``type`` (user, system)."""
PROCESS_CPU_UTILIZATION: Final = "process.cpu.utilization"
"""Observable gauge, ``1``. CPU used by this process over the last interval, over all cores."""
PROCESS_MEMORY_USAGE: Final = "process.memory.usage"
"""Observable up-down counter, bytes. Resident set size of this process."""
PROCESS_MEMORY_VIRTUAL: Final = "process.memory.virtual"
"""Observable up-down counter, bytes. Committed virtual memory of this process."""
PROCESS_THREAD_COUNT: Final = "process.thread.count"
"""Observable up-down counter. Threads of this process."""
PROCESS_UNIX_FILE_DESCRIPTOR_COUNT: Final = "process.unix.file_descriptor.count"
"""Observable up-down counter, ``{file_descriptor}``. Open file descriptors (not on Windows)."""
CPYTHON_GC_COLLECTIONS: Final = "cpython.gc.collections"
"""Observable counter, ``{collection}``. Garbage collections per ``cpython.gc.generation``."""
OTEL_ML_CGROUP_MEMORY_LIMIT: Final = "otel_ml.cgroup.memory.limit"
"""Observable up-down counter, bytes. Memory limit of this process's cgroup (the
container's limit); not reported when unlimited. No semantic convention names it yet."""

HW_GPU_UTILIZATION: Final = "hw.gpu.utilization"
"""Observable gauge, ``1``. Fraction of time the GPU was busy, per device and ``hw.gpu.task``."""
HW_GPU_MEMORY_USAGE: Final = "hw.gpu.memory.usage"
"""Observable up-down counter, bytes. GPU memory in use, per device."""
HW_GPU_MEMORY_LIMIT: Final = "hw.gpu.memory.limit"
"""Observable up-down counter, bytes. GPU memory size, per device."""
HW_GPU_MEMORY_UTILIZATION: Final = "hw.gpu.memory.utilization"
"""Observable gauge, ``1``. Fraction of GPU memory in use, per device."""
HW_TEMPERATURE: Final = "hw.temperature"
"""Observable gauge, ``Cel``. Component temperature; for GPUs with ``hw.type=gpu``."""
HW_POWER: Final = "hw.power"
"""Observable gauge, ``W``. Component power draw; for GPUs with ``hw.type=gpu``."""
HW_ID: Final = "hw.id"
"""Stable id of a hardware component; the GPU's UUID (metric; bounded by the devices)."""
HW_NAME: Final = "hw.name"
"""Recognisable name of a hardware component, e.g. ``gpu0`` (metric)."""
HW_MODEL: Final = "hw.model"
"""Model name of a hardware component, e.g. ``NVIDIA H100 80GB HBM3`` (metric)."""
HW_VENDOR: Final = "hw.vendor"
"""Vendor of a hardware component, e.g. ``NVIDIA`` (metric)."""
HW_TYPE: Final = "hw.type"
"""Kind of component on generic ``hw.*`` metrics: ``gpu`` here (metric)."""
HW_GPU_TASK: Final = "hw.gpu.task"
"""GPU task of ``hw.gpu.utilization``: ``general`` (compute), ``encoder``, ``decoder``."""
HW_TYPE_GPU: Final = "gpu"

ML_MODEL_FRAMEWORK_VERSION: Final = "ml.model.framework.version"
"""Version of the model's framework distribution, e.g. ``1.5.2`` (metric + span)."""
ML_MODEL_SIZE: Final = "ml.model.size"
"""Bytes of the loaded model's file or folder, when known. Span only."""
ML_MODEL_LOAD_DURATION: Final = "ml.model.load.duration"
"""Histogram, seconds. Model loads through ``load_model``; model name/version, ``error.type``."""
ML_MODEL_INFO: Final = "ml.model.info"
"""Observable gauge, always 1. One series per model served by this process:
model name/version, ``ml.model.framework`` and ``ml.model.framework.version``
(when known), so dashboards can annotate deployments and compare versions."""

# Seconds: 10 ms to 10 minutes (large models load from remote storage).
MODEL_LOAD_DURATION_BUCKETS: Final = (
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
)  # fmt: skip


def load_span_name(model_name: str) -> str:
    """Span name of a model load: ``load {ml.model.name}``."""
    return f"load {model_name}"
