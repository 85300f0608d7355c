"""What otel_ml's HTTP layer reads from an ASGI request: headers, the server's
address, the query with signatures redacted, the matched route's template."""

from __future__ import annotations

from collections.abc import Iterable

from starlette.routing import Mount

from otel_ml.instrumentation.fastapi.middleware import Scope

__all__ = ["redacted_query", "request_headers", "request_url", "route_template", "server_address"]

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_REDACTED_QUERY_KEYS = frozenset(("awsaccesskeyid", "signature", "sig", "x-goog-signature"))


def request_headers(headers: Iterable[tuple[bytes, bytes]]) -> tuple[str | None, str | None]:
    """The Host and User-Agent headers (HTTP/2 servers give ``:authority`` as host)."""
    host = user_agent = None
    for name, value in headers:
        if name == b"host":
            host = value.decode("latin-1")
        elif name == b"user-agent":
            user_agent = value.decode("latin-1")
    return host, user_agent


def server_address(
    host: str | None, server: tuple[str, int | None] | None, scheme: str
) -> tuple[str | None, int | None]:
    """``server.address`` and ``server.port`` from the Host header, else the socket."""
    if host:
        name, colon, port = host.rpartition(":")
        if colon and port.isdigit() and (not name.startswith("[") or name.endswith("]")):
            return name.strip("[]"), int(port)
        return host.strip("[]"), _DEFAULT_PORTS.get(scheme)
    if server:
        return server[0], server[1]
    return None, None


def redacted_query(query: str) -> str:
    """The query string with the values of known signature parameters redacted."""
    if not any(key in query.lower() for key in _REDACTED_QUERY_KEYS):
        return query
    parts = []
    for part in query.split("&"):
        key, equals, _ = part.partition("=")
        parts.append(f"{key}=REDACTED" if equals and key.lower() in _REDACTED_QUERY_KEYS else part)
    return "&".join(parts)


def route_template(scope: Scope, root_path: str) -> str | None:
    """The matched route's template, with the paths of the mounts it sits under."""
    route = scope.get("route")
    if route is None and (endpoint := scope.get("endpoint")) is not None:
        # FastAPI's router records only its own routes in the scope; a plain
        # Starlette route (`app.add_route`) is found by the endpoint it matched.
        routes = getattr(scope.get("router"), "routes", ())
        route = next((r for r in routes if getattr(r, "endpoint", None) is endpoint), None)
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if not isinstance(template, str):
        return None
    mounted = scope.get("root_path", "")
    prefix = mounted[len(root_path) :] if mounted.startswith(root_path) else ""
    if isinstance(route, Mount):
        return prefix or template  # an app mounted whole: its path ends the root path
    return prefix + template


def request_url(scope: Scope) -> str:
    """The request URL, for the excluded-URL regexes."""
    host, _ = request_headers(scope.get("headers") or ())
    if host is None and scope.get("server"):
        host = "{}:{}".format(*scope["server"])
    url = f"{scope.get('scheme', 'http')}://{host or ''}{scope.get('root_path', '')}"
    url += str(scope.get("path", ""))
    if query := scope.get("query_string"):
        url += "?" + query.decode("latin-1")
    return url
