"""Online evaluation through the Anthropic and LiteLLM hooks and the OpenAI
Responses API: the real clients call the stand-in LLM, which also judges the
sampled answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anthropic
import litellm
import pytest
from evaluation_support import ANSWER, QUESTION, Rig, rig
from support import Telemetry

from otel_ml.genai.evaluation import names
from otel_ml.instrumentation._patching import PatchingInstrumentor
from otel_ml.instrumentation.anthropic import AnthropicInstrumentor
from otel_ml.instrumentation.litellm import LiteLLMInstrumentor

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")  # LiteLLM's own sockets
RELEVANCE = {"genai_evaluation_evaluators": ("relevance",)}
MESSAGES = [{"role": "user", "content": "An earlier question."},
            {"role": "assistant", "content": "An earlier answer."},
            {"role": "user", "content": QUESTION}]  # fmt: skip
FAKE = {"fake": {"words": ANSWER}}


def _anthropic(r: Rig, stream: bool) -> str:
    with anthropic.Anthropic(base_url=r.url.removesuffix("/v1"), api_key="k", max_retries=0,
                             open_telemetry=False) as client:  # fmt: skip
        if not stream:
            message = client.messages.create(model="claude-t", max_tokens=64,
                                             messages=MESSAGES, extra_body=FAKE)  # fmt: skip
            return str(message.content[0].text)
        with client.messages.stream(model="claude-t", max_tokens=64, messages=MESSAGES,
                                    extra_body=FAKE) as events:  # fmt: skip
            return "".join(events.text_stream)


def _litellm(r: Rig, stream: bool) -> str:
    result = litellm.completion(model="openai/m1", api_base=r.url, api_key="k",
                                messages=MESSAGES, extra_body=FAKE, stream=stream)  # fmt: skip
    if not stream:
        return str(result.choices[0].message.content)
    return "".join(chunk.choices[0].delta.content or "" for chunk in result)


HOOKS: dict[str, tuple[type[PatchingInstrumentor], Callable[[Rig, bool], str], str, str]] = {
    "anthropic": (AnthropicInstrumentor, _anthropic, "claude-t", "anthropic"),
    "litellm": (LiteLLMInstrumentor, _litellm, "openai/m1", "openai"),
}


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
@pytest.mark.parametrize("hook", sorted(HOOKS))
def test_a_sampled_call_of_the_hook_is_judged_in_its_trace(
    telemetry: Telemetry, hook: str, stream: bool
) -> None:
    instrumentor, call, model, provider = HOOKS[hook]
    with rig(telemetry, None, instrumentor, capture_content=True, **RELEVANCE) as r:
        assert call(r, stream) == "".join(ANSWER)
        r.settle()
        chat = telemetry.span(f"chat {model}")
        (result,) = r.results()
        assert result.name == "evaluation relevance"
        assert result.parent is not None and result.parent.span_id == chat.context.span_id
        (event,) = result.events
        assert (event.attributes or {})["gen_ai.evaluation.score.value"] == 0.67
        ((attrs, point),) = telemetry.points(names.ML_GENAI_EVALUATION_SCORE)
        assert attrs == {"gen_ai.evaluation.name": "relevance",
                         "ml.genai.evaluation.source": "judge", "gen_ai.operation.name": "chat",
                         "gen_ai.request.model": model,
                         "gen_ai.provider.name": provider}  # fmt: skip
        assert point.count == 1 and point.sum == pytest.approx(0.67)
        (sent,) = r.judge.received
        prompt = sent["messages"][1]["content"]
        assert QUESTION in prompt and "".join(ANSWER) in prompt  # the last user message
        assert "earlier question" not in prompt


@pytest.mark.parametrize("hook", sorted(HOOKS))
def test_the_hook_sends_nothing_to_the_judge_without_an_opt_in(
    telemetry: Telemetry, hook: str
) -> None:
    instrumentor, call, _, _ = HOOKS[hook]
    with rig(telemetry, None, instrumentor, **RELEVANCE) as r:
        call(r, False)
        call(r, True)
        r.settle()
        assert r.judge.received == [] and r.results() == []
        assert r.dropped("no_content") == 2


@pytest.mark.parametrize("hook", sorted(HOOKS))
def test_the_evaluation_opt_in_sends_the_hook_content_to_the_judge_only(
    telemetry: Telemetry, hook: str
) -> None:
    instrumentor, call, model, _ = HOOKS[hook]
    with rig(telemetry, None, instrumentor, genai_evaluation_content=True, **RELEVANCE) as r:
        call(r, True)
        r.settle()
        assert QUESTION in r.judge.received[0]["messages"][1]["content"]
        chat = telemetry.span(f"chat {model}")
        assert not {"gen_ai.input.messages", "gen_ai.output.messages"} & set(chat.attributes or {})
        assert len(r.results()) == 1


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
def test_a_sampled_responses_api_call_is_judged_on_its_input(
    telemetry: Telemetry, stream: bool
) -> None:
    with rig(telemetry, genai_evaluation_content=True, **RELEVANCE) as r:
        kwargs: dict[str, Any] = {"model": "fake-model", "input": QUESTION, "extra_body": FAKE}
        if stream:
            with r.client.responses.stream(**kwargs) as events:
                events.until_done()
        else:
            r.client.responses.create(**kwargs)
        r.settle()
        (sent,) = r.judge.received
        assert QUESTION in sent["messages"][1]["content"]
        assert "".join(ANSWER) in sent["messages"][1]["content"]
        assert len(r.results()) == 1


def test_openai_embeddings_are_never_sampled(telemetry: Telemetry) -> None:
    with rig(telemetry, **RELEVANCE) as r:  # rate 1, no content opt-in
        r.client.embeddings.create(model="fake-embed", input=["a text"])
        r.settle()
        # A sampled call would have been counted as a no_content drop.
        assert r.dropped("no_content") == 0 and r.judge.received == []
        r.ask()
        assert r.dropped("no_content") == 1
