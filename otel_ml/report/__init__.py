"""The drift page: what ``instrument(app, drift_page=...)`` serves and ``otel-ml report`` writes.

:mod:`~otel_ml.report.data` builds the page as a JSON document from the drift
core's windows; :mod:`~otel_ml.report.page` renders that document as one
self-contained HTML page, with the inline SVG charts of
:mod:`~otel_ml.report.chart`. Nothing here is imported until a page is asked for.
"""
