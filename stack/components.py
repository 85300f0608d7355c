"""The pinned Go modules the stack builds besides the collector, and how.

docker-compose.yml runs the same versions as images (a test compares them).
"""

from __future__ import annotations

import gzip
from pathlib import Path

from stack.errors import StackError
from stack.gobuild import GoModule

_PLUGINS = """\
// Written by otel-ml's stack build (stack/components.py) in place of the
// generated list: no optional service discovery. plugins/minimum.go still
// registers file and http; the stack's configs use static_configs only.

package plugins
"""

_PLACEHOLDER_UI = (
    b"<!doctype html><title>Alertmanager</title><p>Alertmanager built from its Go "
    b"module by otel-ml's stack: no web UI assets. The API is at /api/v2/.</p>\n"
)


def trim_prometheus_plugins(source: Path) -> None:
    """Leave out the optional service discoveries, as Prometheus's README describes
    for source builds (its plugins.yml list, generated into plugins/plugins.go)."""
    plugins = source / "plugins" / "plugins.go"
    if not (source / "plugins" / "minimum.go").exists() or not plugins.exists():
        raise StackError(f"{plugins} or plugins/minimum.go is missing: the layout changed")
    plugins.write_text(_PLUGINS)
    (source / "plugins.yml").write_text("[]\n")


def placeholder_alertmanager_ui(source: Path) -> None:
    """The UI's compiled assets are not in the module (ui/web.go embeds ui/app/dist):
    a placeholder page, so that the embed compiles; the API is complete."""
    dist = source / "ui" / "app" / "dist"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "index.html.gz").write_bytes(gzip.compress(_PLACEHOLDER_UI, mtime=0))


# Jaeger's module has no /v2 suffix, so v2.x tags are not module versions. The
# tag v1.76.0 is the commit of the v2.13.0 release (its CHANGELOG says
# "v1.76.0 / v2.13.0"); cmd/jaeger there is the v2 binary. Built inside the
# module, so its own go.mod (with a replace directive) applies.
JAEGER_VERSION = "v2.13.0"
JAEGER = GoModule(
    name="Jaeger",
    path="github.com/jaegertracing/jaeger",
    version="v1.76.0",
    commands=("./cmd/jaeger",),
    ldflags="-s -w -X github.com/jaegertracing/jaeger/internal/version.latestVersion="
    + JAEGER_VERSION,
)

# Prometheus's library module numbers release 3.y.z as v0.3yy.z (3.5.0 is
# v0.305.0). 3.5 is a long-term support release.
PROMETHEUS_VERSION = "v3.5.0"
_COMMON_VERSION = "-X github.com/prometheus/common/version."
PROMETHEUS = GoModule(
    name="Prometheus",
    path="github.com/prometheus/prometheus",
    version="v0.305.0",
    commands=("./cmd/prometheus", "./cmd/promtool"),
    ldflags=f"-s -w {_COMMON_VERSION}Version={PROMETHEUS_VERSION[1:]} "
    f"{_COMMON_VERSION}Branch=module-v0.305.0 {_COMMON_VERSION}BuildUser=otel-ml-stack",
    prepare=trim_prometheus_plugins,
)

ALERTMANAGER_VERSION = "v0.34.2"
ALERTMANAGER = GoModule(
    name="Alertmanager",
    path="github.com/prometheus/alertmanager",
    version=ALERTMANAGER_VERSION,
    commands=("./cmd/alertmanager", "./cmd/amtool"),
    ldflags=f"-s -w {_COMMON_VERSION}Version={ALERTMANAGER_VERSION[1:]} "
    f"{_COMMON_VERSION}BuildUser=otel-ml-stack",
    prepare=placeholder_alertmanager_ui,
)
