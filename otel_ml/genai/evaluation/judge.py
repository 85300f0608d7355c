"""The judge: any OpenAI-compatible chat completions endpoint, asked over
plain HTTP (the standard library's client: no dependency, and no otel_ml hook
traces the judge's own calls), at most so many calls a minute."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from otel_ml.genai.evaluation.results import EvaluationResult

PASS_SCORE = 0.5
"""Scores at or above it are labelled ``pass``, below it ``fail``."""


class JudgeError(Exception):
    """A judge call that gave no verdict; ``kind`` becomes ``error.type``."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class RateLimit:
    """At most ``per_minute`` calls in any 60 s (a sliding window)."""

    per_minute: int
    clock: Callable[[], float] = time.monotonic
    _calls: deque[float] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def allow(self) -> bool:
        """Take one call from the budget; ``False`` when it is spent."""
        now = self.clock()
        with self._lock:
            while self._calls and now - self._calls[0] >= 60.0:
                self._calls.popleft()
            if len(self._calls) >= self.per_minute:
                return False
            self._calls.append(now)
            return True


@dataclass(frozen=True)
class Judge:
    """An OpenAI-compatible endpoint (``base_url`` ends where ``/chat/completions``
    starts, e.g. ``https://host/v1``) and the model that judges."""

    base_url: str
    model: str
    api_key: str | None = None
    timeout_s: float = 10.0

    def ask(self, system: str, user: str, name: str) -> EvaluationResult:
        """One verdict ``{"score": 0..1, "explanation": ...}`` for evaluation ``name``."""
        body = {
            "model": self.model,
            "temperature": 0,
            "response_format": {"type": "json_object"},
            "messages": [{"role": "system", "content": system},
                         {"role": "user", "content": user}],
        }  # fmt: skip
        reply = self._post(body)
        try:
            text = reply["choices"][0]["message"]["content"]
            return parse_verdict(name, text)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise JudgeError("invalid_verdict", f"not a verdict: {exc}") from None

    def _post(self, body: dict[str, Any]) -> Any:
        headers = {"content-type": "application/json", "accept": "application/json"}
        if self.api_key:
            headers["authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(
            self.base_url.rstrip("/") + "/chat/completions",
            data=json.dumps(body).encode("utf-8"), headers=headers, method="POST",
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise JudgeError(str(exc.code), f"the judge answered HTTP {exc.code}") from None
        except TimeoutError as exc:
            raise JudgeError("timeout", f"no answer within {self.timeout_s} s") from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise JudgeError("timeout", f"no answer within {self.timeout_s} s") from None
            raise JudgeError("connection", f"judge unreachable: {exc.reason}") from None
        except (OSError, ValueError) as exc:
            raise JudgeError("connection", f"judge call failed: {exc}") from None


def parse_verdict(name: str, text: str) -> EvaluationResult:
    """``{"score": number from 0 to 1, "explanation": "..."}`` (a JSON object,
    possibly inside a fenced block) as a result labelled ``pass`` or ``fail``."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise ValueError("no JSON object")
    verdict = json.loads(text[start : end + 1])
    score = verdict["score"]
    if isinstance(score, bool) or not isinstance(score, int | float):
        raise ValueError(f"score {score!r} is not a number")
    explanation = verdict.get("explanation")
    return EvaluationResult(
        name, float(score), "pass" if score >= PASS_SCORE else "fail",
        explanation if isinstance(explanation, str) else None,
    )  # fmt: skip
