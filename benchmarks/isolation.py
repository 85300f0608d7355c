"""What keeping a request's context out of the server's calls costs per request.

Times one ASGI request (one ``receive``, a response start and a body ``send``,
the server's callables doing nothing) through a bare app and through
:class:`~otel_ml.instrumentation.fastapi.isolation.IsolateRequestContext`
around it, in interleaved rounds on one event loop::

    python benchmarks/isolation.py [--quick] [--rounds R] [--write-readme]
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from _common import Stats, interleave, markdown_table, provenance, replace_section

from otel_ml.instrumentation.fastapi.isolation import IsolateRequestContext

README = Path(__file__).with_name("README.md")
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--quick", action="store_true", help="3 rounds of 2,000 requests")
    parser.add_argument("--write-readme", action="store_true")
    args = parser.parse_args()
    rounds, calls = (3, 2_000) if args.quick else (args.rounds, args.calls)
    loop = asyncio.new_event_loop()
    isolated = IsolateRequestContext(app)
    variants = {
        "bare ASGI app": lambda: loop.run_until_complete(app(SCOPE, receive, send)),
        "IsolateRequestContext around it": lambda: loop.run_until_complete(
            isolated(SCOPE, receive, send)
        ),
    }
    samples = interleave(variants, rounds, calls)
    bare = samples["bare ASGI app"]
    added = [i - b for i, b in zip(samples["IsolateRequestContext around it"], bare, strict=True)]
    rows = [
        [name, Stats.of([v / 1000 for v in found]).format(2, " us")]
        for name, found in samples.items()
    ]
    rows.append(["added per request", Stats.of([v / 1000 for v in added]).format(2, " us")])
    loop.close()
    table = markdown_table(["per request (loop.run_until_complete included)", "time"], rows)
    command = "python benchmarks/isolation.py" + (" --quick" if args.quick else "")
    body = f"{table}\n\n{provenance(command, ('starlette', 'uvicorn'))}"
    print(body)
    if args.write_readme:
        replace_section(README, "isolation", body)


if __name__ == "__main__":
    main()
