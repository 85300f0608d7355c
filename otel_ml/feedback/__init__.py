"""Delayed ground truth: join labels to recent predictions, live quality metrics."""
