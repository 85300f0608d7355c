"""Streaming drift detection: reference profiles, binning, drift statistics."""
