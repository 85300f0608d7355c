"""Message content capture: off by default, redacted, then truncated.

Nothing a user typed reaches a span unless capture is on
(``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` or
``OTEL_ML_CAPTURE_CONTENT``). When it is on, the user's redaction hook sees
every text first; a hook that fails drops the text instead of letting the
unredacted original through. Credentials are never read at all: extraction
looks at request bodies, never at headers or the client's key.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from otel_ml._internal import guard
from otel_ml.config import Settings, get_settings

Redactor = Callable[[str], "str | None"]
"""Receives each text before it is recorded; returns the text to keep, or ``None`` to drop it."""

TRUNCATED = "…[truncated]"
DEFAULT_MAX_LENGTH = 4096


@dataclass(frozen=True)
class ContentPolicy:
    """Whether and how message text is recorded."""

    capture: bool = False
    redact: Redactor | None = None
    max_length: int = DEFAULT_MAX_LENGTH

    def text(self, value: Any) -> str | None:
        """``value`` as it may be recorded: redacted and truncated; ``None`` when not."""
        if not self.capture or value is None:
            return None
        text = value if isinstance(value, str) else str(value)
        if self.redact is not None:
            try:
                redacted = self.redact(text)
            except Exception as exc:
                guard.report("genai.content.redact", exc)
                return None
            if redacted is None:
                return None
            text = str(redacted)
        if len(text) > self.max_length:
            return text[: self.max_length] + TRUNCATED
        return text

    def messages_json(self, messages: Iterable[Mapping[str, Any]]) -> str | None:
        """Messages (``{"role", "parts": [...]}``) as the semconv JSON attribute value.

        Every ``content``, ``arguments`` and ``response`` inside passes :meth:`text`.
        """
        if not self.capture:
            return None
        kept = [self._message(message) for message in messages]
        return json.dumps(kept, ensure_ascii=False, separators=(",", ":"))

    def parts_json(self, parts: Iterable[Mapping[str, Any]]) -> str | None:
        """Parts (``gen_ai.system_instructions``) as JSON, each text passing :meth:`text`."""
        if not self.capture:
            return None
        return json.dumps([self._part(part) for part in parts], ensure_ascii=False,
                          separators=(",", ":"))  # fmt: skip

    def tools_json(self, tools: Iterable[Mapping[str, Any]]) -> str | None:
        """Tool definitions (``gen_ai.tool.definitions``) as JSON; descriptions pass
        :meth:`text`, names and parameter schemas are kept as given."""
        if not self.capture:
            return None
        kept = [dict(tool) for tool in tools]
        for tool in kept:
            if tool.get("description") is not None:
                tool["description"] = self.text(tool["description"])
        return json.dumps(kept, ensure_ascii=False, separators=(",", ":"), default=str)

    def _message(self, message: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(message)
        out["parts"] = [self._part(part) for part in message.get("parts", ())]
        return out

    def _part(self, part: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(part)
        for key in ("content", "arguments", "response"):
            if key in out:
                out[key] = self.text(out[key])
        return out


def content_policy(
    capture: bool | None = None,
    redact: Redactor | None = None,
    max_length: int | None = None,
    settings: Settings | None = None,
) -> ContentPolicy:
    """The policy for explicit arguments, falling back to ``settings`` (default:
    the process's) for whether content is captured."""
    if max_length is not None and (isinstance(max_length, bool) or max_length < 1):
        raise ValueError(f"max_length={max_length!r}: expected an int >= 1")
    if redact is not None and not callable(redact):
        raise TypeError("redact must be a callable taking and returning a string")
    return ContentPolicy(
        capture=(settings or get_settings()).capture_content if capture is None else bool(capture),
        redact=redact,
        max_length=max_length or DEFAULT_MAX_LENGTH,
    )


def text_message(role: str, content: Any, **extra: Any) -> dict[str, Any]:
    """A semconv message with one text part (``content`` may be ``None``)."""
    parts = [] if content is None else [{"type": "text", "content": content}]
    return {"role": role, "parts": parts, **extra}
