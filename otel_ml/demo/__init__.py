"""The demo model server behind ``otel-ml demo``."""
