"""Is this process a worker of a pre-fork server? Read from its command line only."""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence

_WORKER_OPTIONS = {"gunicorn": ("-w", "--workers"), "uvicorn": ("--workers",)}


def prefork_server(argv: Sequence[str], environ: Mapping[str, str]) -> str | None:
    """``"gunicorn with 3 workers"``, ``"gunicorn --preload"``, ``"uvicorn with 4
    workers"``, or ``None`` for a single process (or a server this cannot tell).

    Reads ``argv`` (a uvicorn worker started by ``--workers`` carries its
    parent's), gunicorn's ``GUNICORN_CMD_ARGS`` and ``WEB_CONCURRENCY``.
    """
    # The script's name, or its package's for `python -m gunicorn` (.../gunicorn/__main__.py).
    program = "/".join(argv[0].replace("\\", "/").lower().split("/")[-2:]) if argv else ""
    server = next((s for s in _WORKER_OPTIONS if s in program), None)
    if server is None:
        return None
    args = list(argv[1:])
    if server == "gunicorn":
        args = shlex.split(environ.get("GUNICORN_CMD_ARGS", "")) + args
    workers = _option(args, _WORKER_OPTIONS[server]) or environ.get("WEB_CONCURRENCY", "1")
    count = int(workers) if workers.strip().isdigit() else 1
    if count > 1:
        return f"{server} with {count} workers"
    if server == "gunicorn" and "--preload" in args:
        return "gunicorn --preload"
    return None


def _option(args: list[str], names: tuple[str, ...]) -> str | None:
    """The last value given to one of ``names`` (``-w 3``, ``-w3``, ``--workers=3``)."""
    found = None
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                found = args[i + 1]
            elif arg.startswith(name) and arg != name and (len(name) == 2 or arg[len(name)] == "="):
                found = arg[len(name) :].lstrip("=")
    return found
