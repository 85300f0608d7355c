"""otel_ml as it was at an earlier commit, importable beside this tree's.

For side-by-side runs of a change that must not cost more than what it
replaces: ``git archive`` writes the package of ``rev`` to a temporary folder
as ``otel_ml_previous`` (every ``otel_ml`` name in it renamed), which the same
process then imports next to ``otel_ml``. The folder is removed at exit.
"""

from __future__ import annotations

import atexit
import importlib
import io
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "otel_ml_previous"
_NAME = re.compile(r"\botel_ml\b")


def load_previous(rev: str) -> ModuleType:
    """The ``otel_ml`` package of commit ``rev``, imported as ``otel_ml_previous``."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", rev, "otel_ml"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    folder = Path(tempfile.mkdtemp(prefix="otel-ml-previous-"))
    atexit.register(shutil.rmtree, folder, True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    package = (folder / "otel_ml").rename(folder / PACKAGE)
    for path in package.rglob("*.py"):
        path.write_text(_NAME.sub(PACKAGE, path.read_text(encoding="utf-8")), encoding="utf-8")
    sys.path.insert(0, str(folder))
    return importlib.import_module(PACKAGE)
