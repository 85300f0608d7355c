"""Instrumentations of third-party libraries, one folder each."""
