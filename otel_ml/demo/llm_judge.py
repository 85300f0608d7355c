"""The stand-in LLM as a judge: it recognises otel-ml's judge prompts and
answers them on the chat completions wire format with a deterministic
verdict, so online evaluation runs end to end without a real model.

The score is the share of the answer's words (four letters or more) that
appear in what it is judged against: the question (relevance) or the
passages (groundedness). A :class:`JudgeStandIn` records every judge request
it received and can be slowed, failed or held back by tests.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from fastapi.responses import JSONResponse, Response

from otel_ml.genai.evaluation.evaluators import JUDGE_MARKER

_WORD = re.compile(r"[a-z0-9]{4,}")
MAX_HOLD_S = 10.0


@dataclass
class JudgeStandIn:
    """How the stand-in answers judge prompts: ``delay`` seconds first, or HTTP
    ``status`` instead; with a ``gate``, not before it is set (at most 10 s)."""

    delay: float = 0.0
    status: int | None = None
    gate: threading.Event | None = None
    received: list[dict[str, Any]] = field(default_factory=list)
    """Every judge request body, in arrival order."""

    async def reply(self, body: dict[str, Any], model: str) -> Response:
        self.received.append(body)
        if self.gate is not None:
            await asyncio.to_thread(self.gate.wait, MAX_HOLD_S)
        if self.delay:
            await asyncio.sleep(min(self.delay, MAX_HOLD_S))
        if self.status:
            error = {"message": f"fake judge error {self.status}", "type": "fake"}
            return JSONResponse({"error": error}, status_code=self.status)
        text = json.dumps(verdict(body))
        choice = {"index": 0, "finish_reason": "stop",
                  "message": {"role": "assistant", "content": text}}  # fmt: skip
        return JSONResponse({"id": f"chatcmpl-judge-{len(self.received)}",
                             "object": "chat.completion", "created": 1, "model": model,
                             "choices": [choice], "usage": {"prompt_tokens": 50,
                             "completion_tokens": 20, "total_tokens": 70}})  # fmt: skip


def is_judge_request(body: dict[str, Any]) -> bool:
    """Whether a chat request carries one of otel-ml's judge prompts."""
    messages = body.get("messages") or []
    first = messages[0] if messages and isinstance(messages[0], dict) else {}
    content = first.get("content")
    return (
        first.get("role") == "system"
        and isinstance(content, str)
        and (content.startswith(JUDGE_MARKER))
    )


def verdict(body: dict[str, Any]) -> dict[str, Any]:
    """The deterministic verdict on a judge request (see the module's docstring)."""
    user = str(body["messages"][-1].get("content", ""))
    reference, _, answer = user.rpartition("ANSWER:")
    words = set(_WORD.findall(answer.lower()))
    known = set(_WORD.findall(reference.lower()))
    score = round(len(words & known) / len(words), 2) if words else 0.0
    return {"score": score, "explanation": f"{len(words & known)} of {len(words)} words supported"}
