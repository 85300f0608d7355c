"""Keep one request's context out of the server's connection work.

An ASGI server reads the next request of a keep-alive connection in callbacks
it (re)registers from inside the current request's ``receive()`` and final
``send()``: uvicorn resumes reading there once a body passed its 64 kB
buffer, re-arms its keep-alive timer and starts pipelined requests. asyncio
copies the *current* context into each callback it registers, so without
care the request's context (its server span, its prediction-id scope, any
context variable the app set) becomes the starting context of every later
request on the connection: their server spans are skipped as "already
traced" and their inference spans join the old trace.

:class:`ContextIsolation`, outermost of the app's stack, runs the server's
``receive`` and every ``send`` but the response start in a copy of the
context the request arrived with, so nothing a request attached can outlive
it. The response start keeps the request's context: servers write their
access log there, and log correlation reads the current span.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Awaitable, Generator
from typing import TYPE_CHECKING, Any

from otel_ml.instrumentation.fastapi.middleware import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from starlette.applications import Starlette

__all__ = ["ContextIsolation", "IsolateRequestContext"]

_WRAPPED = "_otel_ml_isolated_build"


class _InContext:
    """Await a coroutine with each of its steps run in ``context``.

    What an asyncio task does for its own coroutine, for one awaited call:
    what the coroutine yields (a future, another library's trap) goes to the
    task unchanged, what the task sends or throws goes back in, so
    cancellation and results pass through as if awaited directly.
    """

    __slots__ = ("_context", "_coroutine")

    def __init__(self, coroutine: Any, context: contextvars.Context) -> None:
        self._coroutine = coroutine
        self._context = context

    def __await__(self) -> Generator[Any, Any, Any]:
        run, coroutine = self._context.run, self._coroutine
        sent: Any = None
        thrown: BaseException | None = None
        while True:
            try:
                if thrown is None:
                    yielded = run(coroutine.send, sent)
                else:
                    yielded = run(coroutine.throw, thrown)
            except StopIteration as stop:
                return stop.value
            sent, thrown = None, None
            try:
                sent = yield yielded
            except GeneratorExit:
                coroutine.close()
                raise
            except BaseException as exc:  # cancellation and the like: the callee's to handle
                thrown = exc


class IsolateRequestContext:
    """ASGI middleware: the server's ``receive``/``send`` run in the arrival context."""

    __slots__ = ("app",)

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        """The wrapped stack, named like Starlette's middleware: FastAPI walks ``.app``
        to find the contrib middleware (then it opens no server span of its own)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        arrival = contextvars.copy_context()
        await self.app(
            scope,
            functools.partial(_receive, arrival, receive),
            functools.partial(_send, arrival, send),
        )


# Plain functions returning the awaitable, not coroutines awaiting it: one
# coroutine frame fewer on each receive and send of every request. A copy of the
# arrival context per call: two tasks may be in the server's receive at once,
# and one context cannot be entered twice.
def _receive(arrival: contextvars.Context, receive: Receive) -> Awaitable[Message]:
    return _InContext(receive(), arrival.copy())


def _send(arrival: contextvars.Context, send: Send, message: Message) -> Awaitable[None]:
    if message.get("type") == "http.response.start":
        return send(message)
    return _InContext(send(message), arrival.copy())


class ContextIsolation:
    """Part: :class:`IsolateRequestContext` around the app's whole middleware stack,
    outside every HTTP layer (the contrib one wraps the stack the same way)."""

    def __init__(self) -> None:
        self._own: Any = None

    def apply(self, app: Starlette) -> None:
        self._own = vars(app).get("build_middleware_stack")
        build = app.build_middleware_stack

        def build_isolated() -> ASGIApp:
            return IsolateRequestContext(build())

        setattr(build_isolated, _WRAPPED, True)
        app.build_middleware_stack = build_isolated  # type: ignore[method-assign]

    def undo(self, app: Starlette) -> None:
        if not getattr(vars(app).get("build_middleware_stack"), _WRAPPED, False):
            return  # wrapped again after us: taking ours out would drop theirs
        if self._own is None:
            del app.build_middleware_stack
        else:
            app.build_middleware_stack = self._own  # type: ignore[method-assign]
        if app.middleware_stack is not None:
            app.middleware_stack = app.build_middleware_stack()
