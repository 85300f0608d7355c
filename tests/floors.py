"""The declared floors: the lowest version pyproject.toml allows for each runtime
requirement, as the pins of the lowest-versions lane (``make test-lowest``).

Runtime requirements are ``[project] dependencies`` and the extras that ``all``
and ``models`` (the model libraries the hooks instrument) gather; each needs
exactly one lower bound (``>=``). The dev tools in the ``dev`` extra are not
floors: the lane installs their newest compatible versions.
``python tests/floors.py`` prints the pins as a constraints file.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
LANE_EXTRAS = ("all", "models")
"""The extras whose libraries, with the base dependencies, the lane pins."""


class FloorError(ValueError):
    """A runtime requirement without exactly one ``>=`` lower bound."""


def load_project(path: Path = PYPROJECT) -> dict[str, Any]:
    """The ``[project]`` table of a pyproject.toml."""
    with path.open("rb") as f:
        project: dict[str, Any] = tomllib.load(f)["project"]
    return project


def gathered_extras(project: dict[str, Any], roots: Sequence[str] = LANE_EXTRAS) -> list[str]:
    """The ``roots`` extras and the extras they name, in turn (``otel-ml[fastapi,...]``)."""
    name = canonicalize_name(project["name"])
    extras = project.get("optional-dependencies", {})
    gathered: list[str] = []
    pending = [root for root in roots if root in extras]
    while pending:
        current = pending.pop(0)
        if current in gathered:
            continue
        gathered.append(current)
        for requirement in map(Requirement, extras[current]):
            if canonicalize_name(requirement.name) == name:
                pending.extend(sorted(requirement.extras))
    return gathered


def runtime_requirements(
    project: dict[str, Any], roots: Sequence[str] = LANE_EXTRAS
) -> list[Requirement]:
    """The base dependencies and those of the extras ``roots`` gather."""
    name = canonicalize_name(project["name"])
    extras = project.get("optional-dependencies", {})
    found = [Requirement(text) for text in project.get("dependencies", [])]
    for current in gathered_extras(project, roots):
        found += [r for r in map(Requirement, extras[current]) if canonicalize_name(r.name) != name]
    return found


def floor(requirement: Requirement) -> Version:
    """The version after the requirement's one ``>=``."""
    bounds = [spec for spec in requirement.specifier if spec.operator == ">="]
    if len(bounds) != 1:
        raise FloorError(f"{requirement}: a runtime requirement needs exactly one '>=' floor")
    return Version(bounds[0].version)


def floors(requirements: Iterable[Requirement], python_version: str) -> dict[str, Version]:
    """Canonical name -> floor, for the requirements whose markers hold on
    ``python_version`` (``"3.11"``); the highest where a name appears twice."""
    environment = {"python_version": python_version, "python_full_version": f"{python_version}.0"}
    found: dict[str, Version] = {}
    for requirement in requirements:
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        name = canonicalize_name(requirement.name)
        found[name] = max(floor(requirement), found.get(name, Version("0")))
    return found


def constraints(pins: dict[str, Version]) -> str:
    """A constraints file pinning each name to its floor."""
    return "".join(f"{name}=={version}\n" for name, version in sorted(pins.items()))


def main(argv: Sequence[str] | None = None) -> int:
    """Print the pins for one Python version (default: the running one)."""
    parser = argparse.ArgumentParser(prog="python tests/floors.py", description=__doc__)
    parser.add_argument(
        "--python-version",
        default="{}.{}".format(*sys.version_info),
        help="the X.Y the environment markers are evaluated for",
    )
    args = parser.parse_args(argv)
    try:
        pins = floors(runtime_requirements(load_project()), args.python_version)
    except FloorError as exc:
        print(f"floors: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(constraints(pins))
    return 0


if __name__ == "__main__":
    sys.exit(main())
