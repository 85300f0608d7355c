"""Running the user's code as one call: context manager, decorator, wrapper.

:func:`run_sync` and :func:`run_async` are the one place where otel_ml sits
around a user's call (decorated functions, library patches, ``wrap_model``):
the user's exception fails the call and propagates unchanged, and the user's
result is returned untouched (or a stream proxy that follows it).
:class:`InvocationScope` builds the ``with`` block and the decorators (sync,
async, generator and async generator) on them: a specialisation says how a
call starts (:meth:`InvocationScope.begin`), how its result is read
(:meth:`InvocationScope.complete`) and, if it can, how a returned generator
is followed to its end (:meth:`InvocationScope.follow`).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar, cast

F = TypeVar("F", bound=Callable[..., Any])


class Started(Protocol):
    """What a started call offers its scope: exactly one of these ends it."""

    def stop(self) -> Any:
        """End a successful call."""

    def fail(self, exc: BaseException) -> Any:
        """End a failed call."""


C = TypeVar("C", bound=Started)


class InvocationScope(Generic[C]):
    """A ``with`` block (one call, yielded) or a decorator (one call per call of
    the function; one scope serves any number of concurrent calls)."""

    follows_generators = False
    """Whether decorated generator functions are followed (:meth:`follow`) or refused."""

    def __init__(self) -> None:
        self._open: C | None = None

    def begin(self, args: tuple[Any, ...]) -> C | None:
        """Start one call (``args``: the decorated function's positional
        arguments; ``()`` in a ``with``); ``None``: not ours to record."""
        raise NotImplementedError

    def begin_block(self) -> C:
        """Start the call of a ``with`` block (by default :meth:`begin` of no arguments)."""
        call = self.begin(())
        assert call is not None, "a `with` block always records"
        return call

    def complete(self, call: C, result: Any) -> Any:
        """Read a decorated function's ``result`` into ``call``, end it, return the result."""
        call.stop()
        return result

    def follow(self, call: C, generator: Any) -> Any:
        """The generator a decorated generator function returned, followed by
        ``call`` until it ends."""
        raise NotImplementedError

    def __enter__(self) -> C:
        if self._open is not None:
            raise RuntimeError("this block is already open; create one per `with`")
        self._open = call = self.begin_block()
        return call

    def __exit__(self, *exc_info: Any) -> None:
        call, self._open = self._open, None
        if call is None:
            return
        if exc_info[1] is None:
            call.stop()
        else:
            call.fail(exc_info[1])

    def __call__(self, fn: F) -> F:
        if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
            if not self.follows_generators:
                raise TypeError(
                    f"cannot decorate the generator {fn.__qualname__}; "
                    "decorate the function that returns the result"
                )
            wrapper = _caller(self.begin, self.follow, fn)
        elif inspect.iscoroutinefunction(fn):
            wrapper = _async_caller(self.begin, self.complete, fn)
        else:
            wrapper = _caller(self.begin, self.complete, fn)
        # Plain functions, not partials: a decorated method must still bind `self`.
        return cast(F, functools.wraps(fn)(wrapper))


Begin = Callable[[tuple[Any, ...]], Any]
Finish = Callable[[Any, Any], Any]


def run_sync(
    call: Started | None, finish: Finish, fn: Callable[..., Any], args: Any, kwargs: Any
) -> Any:
    """Call ``fn`` as ``call`` (``None``: not recorded): its exception fails the call
    and propagates unchanged; ``finish(call, result)`` ends it and gives what the
    caller gets (the result, or a stream that follows it)."""
    if call is None:
        return fn(*args, **kwargs)
    try:
        result = fn(*args, **kwargs)
    except BaseException as exc:
        call.fail(exc)
        raise
    return finish(call, result)


async def run_async(
    call: Started | None, finish: Finish, fn: Callable[..., Any], args: Any, kwargs: Any
) -> Any:
    """:func:`run_sync` for a coroutine function."""
    if call is None:
        return await fn(*args, **kwargs)
    try:
        result = await fn(*args, **kwargs)
    except BaseException as exc:
        call.fail(exc)
        raise
    return finish(call, result)


def _caller(begin: Begin, finish: Finish, fn: Callable[..., Any]) -> Callable[..., Any]:
    def call_sync(*args: Any, **kwargs: Any) -> Any:
        return run_sync(begin(args), finish, fn, args, kwargs)

    return call_sync


def _async_caller(begin: Begin, finish: Finish, fn: Callable[..., Any]) -> Callable[..., Any]:
    async def call_async(*args: Any, **kwargs: Any) -> Any:
        return await run_async(begin(args), finish, fn, args, kwargs)

    return call_async
