"""The small HTTP vocabulary the front-ends and the engine runtime share.

Front-ends (ASGI, the native server) translate their requests into ``HTTPRequest`` and
implement ``HTTPBody`` and ``WebSocketChannel``; the engine answers with ``HTTPResponse``.
No dicts of magic keys cross this boundary.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class HTTPRequest:
    """What the engine needs to know about an HTTP request or a WebSocket upgrade.

    ``headers`` has lower-case names; repeated headers are joined with ``", "``.
    ``query`` holds the first value of each query parameter.
    """

    method: str
    path: str
    query_string: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    client: tuple[str, int] | None = None
    secure: bool = False


@dataclass(slots=True)
class HTTPResponse:
    """A complete HTTP response."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


class BodyTooLarge(Exception):
    """The request body is larger than the limit; reading stopped at the limit."""


class ConnectionLost(Exception):
    """The client went away before the request was complete."""


class HTTPBody(Protocol):
    """The parts of an HTTP exchange that need I/O."""

    async def read(self, limit: int) -> bytes:
        """The whole body; raise ``BodyTooLarge`` as soon as it exceeds ``limit`` bytes,
        ``ConnectionLost`` when the client disconnects first."""
        ...

    async def wait_disconnect(self) -> None:
        """Return when the client has disconnected (used while a poll is held)."""
        ...


class MessageTooLarge(Exception):
    """A WebSocket message exceeded the size limit; the channel has been closed (1009)."""


class WebSocketChannel(Protocol):
    """A WebSocket as the engine drives it. Writes are queued and keep their order."""

    async def accept(self, headers: Sequence[tuple[str, str]]) -> None:
        """Complete the opening handshake with these extra response headers."""
        ...

    async def reject(self, response: HTTPResponse) -> None:
        """Refuse the opening handshake with this HTTP response (when the server can)."""
        ...

    async def receive(self) -> str | bytes | None:
        """The next message, or None once the peer closed; may raise ``MessageTooLarge``."""
        ...

    def write(self, messages: Sequence[str | bytes]) -> None:
        """Queue messages; they go out in order, without blocking the caller."""
        ...

    def close(self, code: int = 1000) -> None:
        """Close after the queued messages are written."""
        ...


# -- CORS ------------------------------------------------------------------------------------

OriginPolicy = str | Sequence[str] | Callable[[str], bool | Awaitable[bool]] | None
"""``None``: same origin only; ``"*"``: any origin; a list; or a (possibly async) callable."""


def same_origin(origin: str, request: HTTPRequest) -> bool:
    """Whether ``origin`` names the host the request was sent to."""
    host = request.headers.get("host")
    if not host or origin == "null":
        return False
    parts = urlsplit(origin)
    if parts.scheme != ("https" if request.secure else "http"):
        return False
    default_port = "443" if parts.scheme == "https" else "80"
    origin_host = parts.hostname or ""
    origin_port = str(parts.port) if parts.port is not None else default_port
    request_host = urlsplit(f"//{host}")
    req_port = str(request_host.port) if request_host.port is not None else None
    if req_port is None:
        req_port = "443" if request.secure else "80"
    return (request_host.hostname or "") == origin_host and req_port == origin_port


@dataclass(frozen=True, slots=True, kw_only=True)
class CorsOptions:
    """Cross-origin rules, applied to polling and to WebSocket upgrades alike.

    Attributes:
        origins: see ``OriginPolicy``. A request from an origin that is not allowed is
            refused (403, code 4), so a cross-site page can neither read nor push data, and
            cross-site WebSocket hijacking is refused too.
        credentials: send ``Access-Control-Allow-Credentials: true``.
        methods: allowed methods for preflight requests.
        headers: allowed request headers for preflight requests (default: echo the request).
        max_age: ``Access-Control-Max-Age`` in seconds for preflight requests.
    """

    origins: OriginPolicy = None
    credentials: bool = False
    methods: tuple[str, ...] = ("GET", "POST", "OPTIONS")
    headers: tuple[str, ...] | None = None
    max_age: int | None = None

    async def allows(self, request: HTTPRequest) -> bool:
        """Whether the request's Origin (if any) may use the server."""
        origin = request.headers.get("origin")
        if origin is None:
            return True  # not a browser, or a same-origin navigation
        policy = self.origins
        if policy is None:
            return same_origin(origin, request)
        if isinstance(policy, str):
            return policy == "*" or policy == origin
        if callable(policy):
            result = policy(origin)
            if not isinstance(result, bool):
                result = await result
            return bool(result)
        return origin in policy

    def response_headers(self, request: HTTPRequest) -> list[tuple[str, str]]:
        """The CORS headers of a response to an allowed request."""
        origin = request.headers.get("origin")
        if origin is None:
            return []
        if self.origins == "*" and not self.credentials:
            headers = [("Access-Control-Allow-Origin", "*")]
        else:
            headers = [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]
        if self.credentials:
            headers.append(("Access-Control-Allow-Credentials", "true"))
        return headers

    def preflight_headers(self, request: HTTPRequest) -> list[tuple[str, str]]:
        """The headers of a response to an allowed preflight (OPTIONS) request."""
        headers = self.response_headers(request)
        headers.append(("Access-Control-Allow-Methods", ", ".join(self.methods)))
        if self.headers is not None:
            headers.append(("Access-Control-Allow-Headers", ", ".join(self.headers)))
        elif "access-control-request-headers" in request.headers:
            requested = request.headers["access-control-request-headers"]
            headers.append(("Access-Control-Allow-Headers", requested))
        if self.max_age is not None:
            headers.append(("Access-Control-Max-Age", str(self.max_age)))
        return headers


# -- compression -----------------------------------------------------------------------------


def compress(body: bytes, accept_encoding: str) -> tuple[bytes, str | None]:
    """Compress with gzip or deflate when the client accepts it; the encoding used or None."""
    accepted = {part.split(";")[0].strip().lower() for part in accept_encoding.split(",")}
    if "gzip" in accepted:
        return gzip.compress(body, compresslevel=6, mtime=0), "gzip"
    if "deflate" in accepted:
        return zlib.compress(body, 6), "deflate"
    return body, None


__all__ = [
    "BodyTooLarge",
    "ConnectionLost",
    "CorsOptions",
    "HTTPBody",
    "HTTPRequest",
    "HTTPResponse",
    "MessageTooLarge",
    "OriginPolicy",
    "WebSocketChannel",
    "compress",
    "same_origin",
]
