"""Telling a pre-fork server's worker from its command line."""

from __future__ import annotations

import pytest

from otel_ml._internal.prefork import prefork_server


@pytest.mark.parametrize(
    ("argv", "environ", "expected"),
    [
        (["/srv/.venv/bin/gunicorn", "app:app", "-w", "3"], {}, "gunicorn with 3 workers"),
        (["/srv/.venv/bin/gunicorn", "app:app", "-w3"], {}, "gunicorn with 3 workers"),
        (["/srv/.venv/bin/gunicorn", "--workers=4", "app:app"], {}, "gunicorn with 4 workers"),
        (["/srv/.venv/bin/gunicorn", "app:app"], {"WEB_CONCURRENCY": "2"},
         "gunicorn with 2 workers"),
        (["/srv/.venv/bin/gunicorn", "app:app"], {"GUNICORN_CMD_ARGS": "--workers 5"},
         "gunicorn with 5 workers"),
        (["/srv/.venv/bin/gunicorn", "app:app", "--preload"], {}, "gunicorn --preload"),
        (["/usr/lib/python3/gunicorn/__main__.py", "-w", "2", "app:app"], {},
         "gunicorn with 2 workers"),
        (["/srv/.venv/bin/uvicorn", "app:app", "--workers", "2"], {}, "uvicorn with 2 workers"),
        (["/srv/.venv/bin/gunicorn", "app:app", "-w", "1"], {}, None),
        (["/srv/.venv/bin/uvicorn", "app:app"], {}, None),
        (["/srv/.venv/bin/uvicorn", "app:app", "--workers", "many"], {}, None),
        (["python", "serve.py", "--workers", "4"], {}, None),
        ([], {}, None),
    ],
)  # fmt: skip
def test_prefork_server(argv: list[str], environ: dict[str, str], expected: str | None) -> None:
    assert prefork_server(argv, environ) == expected
