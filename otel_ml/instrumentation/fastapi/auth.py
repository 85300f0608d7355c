"""Bearer tokens for the one-liner's own routes (the feedback route, the drift page).

A route without a token is open to anyone who reaches the app: the feedback
route then takes labels from any client, the drift page shows the model's
input distributions. That is said once, when the route is added, with the
variable that closes it.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping

__all__ = ["BearerToken", "announce_open"]

_logger = logging.getLogger("otel_ml")


class BearerToken:
    """The token one route requires (``None``: the route is open)."""

    __slots__ = ("_expected", "challenge")

    def __init__(self, token: str | None, realm: str) -> None:
        self._expected = token.encode("utf-8") if token is not None else None
        self.challenge = (b"www-authenticate", f'Bearer realm="{realm}"'.encode("latin-1"))
        """The header of a 401 answer."""

    @property
    def required(self) -> bool:
        """Whether requests must carry the token."""
        return self._expected is not None

    def allows(self, headers: Mapping[bytes, bytes]) -> bool:
        """Whether ASGI ``headers`` (lower-case names) carry the token, compared in
        constant time; always, when no token is required."""
        if self._expected is None:
            return True
        scheme, _, credentials = headers.get(b"authorization", b"").partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(
            credentials.strip(), self._expected
        )


def announce_open(token: str | None, what: str, path: str, variable: str) -> None:
    """Log once, when the route is added, that ``what`` at ``path`` has no ``token``."""
    if token is None:
        _logger.warning(
            "otel_ml: the %s at %s accepts requests from anyone who can reach the app; "
            "set %s to require a bearer token (README, production checklist)",
            what,
            path,
            variable,
        )
