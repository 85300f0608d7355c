"""Implementation details. Nothing here is public API."""
