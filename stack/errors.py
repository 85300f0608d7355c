"""The one error the stack's commands report to the user."""

from __future__ import annotations


class StackError(Exception):
    """Something the user has to fix (a missing tool, a busy port); the message says what."""
