"""What keeping a request's context out of the server's calls costs per request.

Times one ASGI request (one ``receive``, a response start and a body ``send``,
the server's callables doing nothing) through a bare app and through
:class:`~otel_ml.instrumentation.fastapi.isolation.IsolateRequestContext`
around it, in interleaved rounds on one event loop::

    python benchmarks/isolation.py [--quick] [--rounds R] [--write-readme]
"""

from __future__ import annotations

import asyncio
from typing import Any

from _common import Stats, interleave, markdown_table, publish, timing_run

from otel_ml.instrumentation.fastapi.isolation import IsolateRequestContext

SCOPE = {"type": "http"}
START = {"type": "http.response.start", "status": 200, "headers": []}
BODY = {"type": "http.response.body", "body": b"{}"}
REQUEST = {"type": "http.request", "body": b"{}", "more_body": False}


async def app(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    await send(START)
    await send(BODY)


async def receive() -> dict[str, Any]:
    return REQUEST


async def send(message: Any) -> None:
    return None


def main() -> None:
    run = timing_run(__doc__.splitlines()[0], 21, 20_000, 2_000)
    loop = asyncio.new_event_loop()
    isolated = IsolateRequestContext(app)
    variants = {
        "bare ASGI app": lambda: loop.run_until_complete(app(SCOPE, receive, send)),
        "IsolateRequestContext around it": lambda: loop.run_until_complete(
            isolated(SCOPE, receive, send)
        ),
    }
    samples = interleave(variants, run.rounds, run.calls)
    bare = samples["bare ASGI app"]
    added = [i - b for i, b in zip(samples["IsolateRequestContext around it"], bare, strict=True)]
    rows = [
        [name, Stats.of([v / 1000 for v in found]).format(2, " us")]
        for name, found in samples.items()
    ]
    rows.append(["added per request", Stats.of([v / 1000 for v in added]).format(2, " us")])
    loop.close()
    table = markdown_table(["per request (loop.run_until_complete included)", "time"], rows)
    command = "python benchmarks/isolation.py" + (" --quick" if run.quick else "")
    publish(table, command, ("starlette", "uvicorn"), "isolation" if run.write_readme else None)


if __name__ == "__main__":
    main()
