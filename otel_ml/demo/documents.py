"""The demo's document set: short notes on operating a model server, for the RAG endpoint."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Document:
    """One retrievable note."""

    id: str
    title: str
    text: str


# One note per paragraph: its title on the first line, its text below.
_NOTES = """
Population stability index
PSI compares the share of values per bin in a window with the reference share. Below 0.1
is stable, 0.1 to 0.25 is a moderate shift, above 0.25 a major one.

Kolmogorov-Smirnov statistic
The KS statistic is the largest gap between two cumulative distributions. It suits
numeric features; at serving volume its p-value is always tiny, so alert on the
statistic itself.

Jensen-Shannon distance
Jensen-Shannon distance is a symmetric, bounded measure between two distributions. It
works for categories and for binned numbers and stays finite when a bin is empty.

Chi-square test on categories
A chi-square test compares category counts with the reference fractions. A new category
that training never saw lands in the other bucket and raises the statistic.

Reference profiles
A reference profile stores, per feature, bin edges at the training quantiles and the
training fraction per bin. Fit it once on the training split and ship it with the model.

Drift windows
Drift is scored per tumbling window. A window closes after a number of rows or an age,
and a feature is scored only with enough values, because small windows are noise.

Unseen categories
An unseen category is a value of a categorical feature that the reference profile does
not know, such as a new hospital site. It is counted as a data quality issue and shifts
the category mix.

Missing and non-finite values
Missing values, NaN and infinity are counted per feature, not binned. A sudden rise
usually means a broken upstream job or a client bug, not a changed world.

Delayed labels
Ground truth often arrives late: a biopsy result, a chargeback, a human review. Keep
each prediction id, and post the label later so it can be joined to the prediction.

Live accuracy
Live accuracy is the share of labelled predictions that were correct. Compare it with
the baseline accuracy measured offline on held-out data, over enough labels.

Baseline accuracy
The baseline is the model's accuracy on held-out data at training time. Store it in the
reference profile so that the live accuracy has something to be compared with.

Prediction ids
Every prediction gets an id, returned in the x-prediction-id response header and
recorded on the span. The id joins a later label to the prediction and to its trace.

Confidence
Confidence is the largest class probability of a prediction. A growing share of low-
confidence predictions is an early sign that inputs moved away from the training data.

Error budgets
An availability objective of 99.9% leaves an error budget of 0.1% of calls. Burn-rate
alerts page when the budget burns 14.4 times too fast over an hour and five minutes.

Latency objectives
A latency objective states the share of calls that must finish within a bound, such as
99% within 250 ms. Alert on the budget burn, and watch the p95 and p99.

Percentiles from histograms
Latency percentiles come from histogram buckets, interpolated inside the bucket that
holds the rank. Their precision is the bucket width, so choose boundaries near the
objective.

Time to first token
Time to first token is the wait from sending a streamed request to the first content
chunk. Users feel it as the pause before the answer starts to appear.

Token usage
LLM providers report input and output tokens per call, in the response or the final
usage chunk of a stream. Token counts drive cost; never estimate them.

Retrieval augmented generation
A RAG endpoint embeds the question, retrieves the closest documents from an index and
asks a language model to answer from them. Trace each step as its own span.

Embeddings
An embedding maps a text to a vector so that similar texts land close together.
Retrieval ranks documents by the cosine similarity of their vectors to the question's.

Retrieval quality
Record how many documents a retrieval returned and the range of their scores. A falling
top score means questions the index cannot answer well.

Traces of a request
A trace shows one request as a tree of spans: the HTTP server span, the inference or the
retrieval and LLM calls inside it, each with its duration and attributes.

Metrics versus spans
Metrics carry low-cardinality attributes and are cheap to keep for months. Ids, prompts
and feature values belong on spans, never on metric attributes.

Exemplars
An exemplar links a point of a latency histogram to a trace id, so a slow bucket in
Prometheus leads straight to a slow trace in Jaeger.

OpenTelemetry Collector
The collector receives OTLP, batches it and exports traces to Jaeger and metrics to
Prometheus. Applications send to one address and never learn the backends.

Alert rules
Alert rules evaluate PromQL expressions over recording rules. A rule with a for clause
fires only after its condition has held that long, which filters short blips.

Runbooks
Every alert should link a runbook: what the alert means, how to confirm it, and the
first steps to take. An alert nobody can act on is noise.

Rolling back a model
When live accuracy drops after a release, compare the model versions on the dashboard. A
rollback is the fastest fix while the cause is investigated.

Retraining
Retrain when drift persists and labels confirm a quality drop. Refit the reference
profile on the new training split, or the drift scores compare against the past.

Data quality checks
Data quality counters per feature catch schema changes, wrong types and out-of-range
values before they turn into silent accuracy loss.

Sampling traces
Tail sampling at the collector keeps every error, slow request and low-confidence
prediction, and a share of the rest, so traces stay affordable.

GPU memory
GPU memory near its limit makes new allocations fail. Watch memory used over memory size
per device, and the batch sizes that push it up.

Process metrics
CPU time, resident memory, threads and open file descriptors of the serving process show
leaks and saturation; compare memory with the container limit.

Cardinality
Each distinct set of metric attributes is a time series. Cap class labels and
categories, and keep user ids out of metrics, or the metrics backend pays for it.
"""


def _parse(notes: str) -> tuple[Document, ...]:
    paragraphs = [p.strip().splitlines() for p in notes.strip().split("\n\n")]
    return tuple(
        Document(f"doc-{i:02d}", lines[0], " ".join(lines[1:]))
        for i, lines in enumerate(paragraphs)
    )


DOCUMENTS: tuple[Document, ...] = _parse(_NOTES)
