"""The one stream proxy: every way a stream ends reaches exactly one hook, once."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from otel_ml._internal.stream import AsyncStream, SyncStream


class Recorder:
    """A stream handler that writes down what it was told."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    def on_chunk(self, chunk: Any) -> None:
        self.events.append(("chunk", chunk))

    def on_end(self, abandoned: bool) -> None:
        self.events.append(("end", abandoned))

    def on_error(self, exc: BaseException) -> None:
        self.events.append(("error", type(exc).__name__))


def tokens(n: int, fail_at: int | None = None) -> Iterator[int]:
    for i in range(n):
        if i == fail_at:
            raise ValueError("producer failed")
        yield i


async def atokens(n: int, fail_at: int | None = None) -> AsyncIterator[int]:
    for i in range(n):
        if i == fail_at:
            raise ValueError("producer failed")
        await asyncio.sleep(0)
        yield i


def test_exhaustion() -> None:
    rec = Recorder()
    assert list(SyncStream(tokens(2), rec)) == [0, 1]
    assert rec.events == [("chunk", 0), ("chunk", 1), ("end", False)]


def test_close_twice_then_gc_ends_once() -> None:
    rec = Recorder()
    stream = SyncStream(tokens(5), rec)
    next(stream)
    stream.close()
    stream.close()
    del stream
    gc.collect()
    assert rec.events == [("chunk", 0), ("end", False)]


def test_break_then_gc_is_abandoned() -> None:
    rec = Recorder()
    stream = SyncStream(tokens(5), rec)
    for _ in stream:
        break
    assert rec.events == [("chunk", 0)]
    del stream
    gc.collect()
    assert rec.events == [("chunk", 0), ("end", True)]


def test_producer_exception_propagates_unchanged() -> None:
    rec = Recorder()
    with pytest.raises(ValueError, match="producer failed"):
        list(SyncStream(tokens(5, fail_at=1), rec))
    assert rec.events == [("chunk", 0), ("error", "ValueError")]


def test_context_manager_exit_with_and_without_error() -> None:
    rec = Recorder()
    with SyncStream(tokens(5), rec) as stream:
        next(stream)
    assert rec.events == [("chunk", 0), ("end", False)]
    rec = Recorder()
    with pytest.raises(KeyError), SyncStream(tokens(5), rec):
        raise KeyError("in the loop body")
    assert rec.events == [("error", "KeyError")]


def test_the_proxy_is_transparent() -> None:
    generator = tokens(1)
    stream = SyncStream(generator, Recorder())
    assert isinstance(stream, type(generator)) and stream.gi_frame is generator.gi_frame


def test_async_endings() -> None:
    async def scenario() -> list[list[Any]]:
        full, closed, failed, exited = Recorder(), Recorder(), Recorder(), Recorder()
        assert [t async for t in AsyncStream(atokens(2), full)] == [0, 1]
        stream = AsyncStream(atokens(5), closed)
        await stream.__anext__()
        await stream.aclose()
        await stream.aclose()
        with pytest.raises(ValueError, match="producer failed"):
            async for _ in AsyncStream(atokens(5, fail_at=1), failed):
                pass
        async with AsyncStream(atokens(5), exited) as managed:
            async for _ in managed:
                break
        return [full.events, closed.events, failed.events, exited.events]

    full, closed, failed, exited = asyncio.run(scenario())
    assert full == [("chunk", 0), ("chunk", 1), ("end", False)]
    assert closed == [("chunk", 0), ("end", False)]
    assert failed == [("chunk", 0), ("error", "ValueError")]
    assert exited == [("chunk", 0), ("end", False)]
