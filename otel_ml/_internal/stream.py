"""The one stream proxy (sync and async) around a response stream or generator.

It follows a call that returned a stream (an LLM's streamed answer, a
decorated generator, a server's token generator) until the stream ends.

A stream ends in many ways: exhausted, ``close()``/``aclose()``, the context
manager's exit, an exception from the producer, or nobody touching it again
(``break`` without ``close``, then garbage collection). Every way funnels
into one of three hooks of a :class:`StreamHandler`, and ``weakref.finalize``
makes sure ``on_end``/``on_error`` run exactly once, whichever comes first.
"""

from __future__ import annotations

import inspect
import weakref
from types import TracebackType
from typing import Any, Protocol

import wrapt

from otel_ml._internal import guard


class StreamHandler(Protocol):
    """What a stream reports to (the telemetry side of one streamed call)."""

    def on_chunk(self, chunk: Any) -> None:
        """Every item the producer yields, before the caller sees it."""

    def on_end(self, abandoned: bool) -> None:
        """The stream ended without error; ``abandoned``: by garbage collection."""

    def on_error(self, exc: BaseException) -> None:
        """The producer raised (or the caller's ``with`` block did)."""


def _end(handler: StreamHandler, abandoned: bool) -> None:
    try:
        handler.on_end(abandoned)
    except Exception as exc:
        guard.report("genai.stream.end", exc)


class _StreamProxy(wrapt.ObjectProxy):  # type: ignore[type-arg]
    """Shared state: the handler and the once-only finaliser."""

    def __init__(self, wrapped: Any, handler: StreamHandler) -> None:
        super().__init__(wrapped)
        self._self_handler = handler
        self._self_finalizer = weakref.finalize(self, _end, handler, True)

    def _self_chunk(self, chunk: Any) -> None:
        try:
            self._self_handler.on_chunk(chunk)
        except Exception as exc:
            guard.report("genai.stream.chunk", exc)

    def _self_finish(self, exc: BaseException | None = None) -> None:
        if self._self_finalizer.detach() is None:
            return  # already finished
        if exc is None:
            _end(self._self_handler, False)
            return
        try:
            self._self_handler.on_error(exc)
        except Exception as err:
            guard.report("genai.stream.error", err)


class SyncStream(_StreamProxy):
    """A sync stream (``openai.Stream``, a generator) that reports to a handler."""

    def __iter__(self) -> SyncStream:
        return self

    def __next__(self) -> Any:
        try:
            chunk = next(self.__wrapped__)
        except StopIteration:
            self._self_finish()
            raise
        except BaseException as exc:
            self._self_finish(exc)
            raise
        self._self_chunk(chunk)
        return chunk

    def close(self) -> None:
        """Close the underlying stream and end the call."""
        try:
            close = getattr(self.__wrapped__, "close", None)
            if close is not None:
                close()
        finally:
            self._self_finish()

    def __enter__(self) -> SyncStream:
        enter = getattr(self.__wrapped__, "__enter__", None)
        if enter is not None:
            enter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        try:
            exit_ = getattr(self.__wrapped__, "__exit__", None)
            if exit_ is not None:
                return bool(exit_(exc_type, exc, tb))
            close = getattr(self.__wrapped__, "close", None)
            if close is not None:
                close()
            return None
        finally:
            self._self_finish(exc)


class AsyncStream(_StreamProxy):
    """An async stream (``openai.AsyncStream``, an async generator) that reports to a handler."""

    def __aiter__(self) -> AsyncStream:
        return self

    async def __anext__(self) -> Any:
        try:
            chunk = await self.__wrapped__.__anext__()
        except StopAsyncIteration:
            self._self_finish()
            raise
        except BaseException as exc:
            self._self_finish(exc)
            raise
        self._self_chunk(chunk)
        return chunk

    async def aclose(self) -> None:
        """Close the underlying stream and end the call."""
        try:
            wrapped = self.__wrapped__
            close = getattr(wrapped, "aclose", None) or getattr(wrapped, "close", None)
            if close is not None:
                await close()
        finally:
            self._self_finish()

    async def close(self) -> None:
        """Alias of :meth:`aclose` (``openai.AsyncStream`` spells it ``close``)."""
        await self.aclose()

    async def __aenter__(self) -> AsyncStream:
        enter = getattr(self.__wrapped__, "__aenter__", None)
        if enter is not None:
            await enter()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        try:
            wrapped = self.__wrapped__
            exit_ = getattr(wrapped, "__aexit__", None)
            if exit_ is not None:
                return bool(await exit_(exc_type, exc, tb))
            close = getattr(wrapped, "aclose", None) or getattr(wrapped, "close", None)
            if close is not None:
                await close()
            return None
        finally:
            self._self_finish(exc)


def follow_stream(stream: Any, handler: StreamHandler) -> SyncStream | AsyncStream:
    """``stream`` (sync or async) reporting to ``handler``."""
    if inspect.isasyncgen(stream) or hasattr(stream, "__anext__"):
        return AsyncStream(stream, handler)
    return SyncStream(stream, handler)
