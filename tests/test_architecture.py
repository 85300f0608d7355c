"""The layout is the architecture: the package's import graph and sizes, checked.

docs/architecture.md draws the layers; these tests keep the code to the
drawing. Imports are read from the source with ``ast`` (lazy and
``TYPE_CHECKING`` ones too), so a cycle or an upward import fails here
before it fails at run time.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "otel_ml"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 50

# package -> the otel_ml packages it must never import
FORBIDDEN = {
    "otel_ml._internal": ("inference", "genai", "drift", "feedback", "models", "outputs",
                          "instrumentation", "resources", "sdk", "cli", "report", "demo"),
    "otel_ml.outputs": ("_internal", "inference", "genai", "drift", "feedback", "models",
                        "instrumentation", "resources", "sdk", "cli", "report", "demo"),
    "otel_ml.inference": ("drift", "feedback", "models", "genai", "instrumentation", "cli",
                          "report", "demo"),
    "otel_ml.genai": ("inference", "drift", "feedback", "models", "instrumentation", "demo"),
    "otel_ml.drift": ("inference", "feedback", "models", "genai", "instrumentation", "cli",
                      "report", "demo"),
    "otel_ml.feedback": ("drift", "models", "genai", "instrumentation", "cli", "report", "demo"),
    "otel_ml.report": ("inference", "feedback", "models", "genai", "instrumentation", "demo"),
    "otel_ml.resources": ("models", "drift", "feedback", "genai", "instrumentation", "demo"),
}  # fmt: skip


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The otel_ml modules ``name`` imports (``from pkg import mod`` names ``pkg.mod``)."""
    out: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                out.add(submodule if submodule in known else base)
    return {m for m in out if m in known and m != name}


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in edges:
        if node not in index:
            visit(node)
    return found


def test_the_package_has_no_import_cycles() -> None:
    assert cycles(graph()) == []


def test_no_layer_imports_a_layer_above_it() -> None:
    upward = [
        f"{name} -> {target}"
        for name, targets in graph().items()
        for package, banned in FORBIDDEN.items()
        if name == package or name.startswith(package + ".")
        for target in targets
        if any(target == f"otel_ml.{b}" or target.startswith(f"otel_ml.{b}.") for b in banned)
    ]
    assert upward == []


def runtime_imports(path: Path) -> set[str]:
    """Modules ``path`` imports outside ``if TYPE_CHECKING:`` blocks."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING"
        for inner in ast.walk(node)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_the_sinks_use_the_inference_core_for_types_only() -> None:
    # Drift and feedback are attached by models/; they are handed a model's
    # context and its telemetry bundle and never reach for them themselves.
    for name, path in modules().items():
        if name.startswith(("otel_ml.drift", "otel_ml.feedback")):
            assert not {m for m in runtime_imports(path) if m.startswith("otel_ml.inference")}, name


def test_only_the_cli_imports_the_demo() -> None:
    importers = {
        name
        for name, targets in graph().items()
        if any(t.startswith("otel_ml.demo") for t in targets)
        and not name.startswith("otel_ml.demo")
    }
    assert importers == {"otel_ml.cli"}


def functions(tree: ast.AST) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


@pytest.mark.parametrize("name", sorted(modules()))
def test_modules_and_functions_stay_small(name: str) -> None:
    path = modules()[name]
    source = path.read_text(encoding="utf-8")
    assert len(source.splitlines()) < MAX_MODULE_LINES, f"{path} has too many lines"
    long = [
        f"{fn.name} ({fn.end_lineno - fn.lineno + 1} lines)"
        for fn in functions(ast.parse(source))
        if fn.end_lineno is not None and fn.end_lineno - fn.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long == []
