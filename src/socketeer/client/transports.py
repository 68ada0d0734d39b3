"""The client transports: HTTP long-polling over ``httpx`` and WebSocket over ``websockets``.

Both carry the user's extra headers and query parameters and the TLS options, and share
one cookie jar (the ``httpx.AsyncClient``'s): cookies set by any response go back with
every later request of the client, WebSocket handshakes included, so sticky load
balancers keep routing a session to the same node.

Incoming sizes are capped: a polling response body or a WebSocket message larger than
``max_message_size`` bytes fails the transport ("transport error").
"""

from __future__ import annotations

import email.message
import secrets
import ssl as ssl_module
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http.cookiejar import CookieJar
from typing import Any
from urllib.parse import urlencode, urlsplit

try:
    import httpx
    from websockets.asyncio.client import ClientConnection, connect
    from websockets.exceptions import ConnectionClosed, WebSocketException
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError(
        "the socketeer client needs httpx and websockets: pip install 'socketeer[client]'"
    ) from exc

from ..engineio.config import Transport
from ..engineio.requests import PROTOCOL_VERSION

SSLOption = ssl_module.SSLContext | bool | None
"""TLS options: None / True verify with the system CAs, False does not verify, or a context."""

_ERROR_BODY_LIMIT = 4096


class TransportError(Exception):
    """A request or a WebSocket failed; ``str(error)`` says how."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where the server is: ``http(s)://host:port/path/`` plus the user's query."""

    secure: bool
    netloc: str
    path: str
    query: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, url: str, path: str, query: Mapping[str, str] | None) -> Endpoint:
        """Build an endpoint from a server URL (``http``, ``https``, ``ws`` or ``wss``)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https", "ws", "wss") or not parts.netloc:
            raise ValueError(f"not an http(s) or ws(s) URL: {url!r}")
        path = "/" + path.strip("/") + "/" if path.strip("/") else "/"
        items = tuple((str(k), str(v)) for k, v in (query or {}).items())
        return cls(parts.scheme in ("https", "wss"), parts.netloc, path, items)

    def url(self, transport: Transport, sid: str | None, *, websocket: bool = False) -> str:
        """The URL of an Engine.IO request (a cache-busting ``t`` on polling, as in JS)."""
        params: list[tuple[str, str]] = [
            *self.query,
            ("EIO", PROTOCOL_VERSION),
            ("transport", transport.value),
        ]
        if sid is not None:
            params.append(("sid", sid))
        if not websocket:
            params.append(("t", secrets.token_urlsafe(6)))
        scheme = ("wss" if self.secure else "ws") if websocket else self.http_scheme
        return f"{scheme}://{self.netloc}{self.path}?{urlencode(params)}"

    @property
    def http_scheme(self) -> str:
        return "https" if self.secure else "http"


def new_http_client(
    *, headers: Mapping[str, str], ssl: SSLOption, connect_timeout: float
) -> httpx.AsyncClient:
    """The HTTP client of one ``Client``: its cookie jar lives as long as the client."""
    verify: ssl_module.SSLContext | bool = True if ssl is None else ssl
    return httpx.AsyncClient(
        headers=dict(headers),
        verify=verify,
        # A long-poll is held up to the server's ping interval: no read timeout (the
        # session's heartbeat deadline detects a dead server).
        timeout=httpx.Timeout(None, connect=connect_timeout),
        follow_redirects=False,
    )


async def poll(http: httpx.AsyncClient, url: str, max_size: int) -> str:
    """One polling GET; the body, decoded, or ``TransportError``."""
    try:
        async with http.stream("GET", url) as response:
            body = await _read_capped(response, max_size)
    except httpx.HTTPError as exc:
        raise TransportError(f"xhr poll error: {_describe(exc)}") from exc
    return _text(body)


async def post(http: httpx.AsyncClient, url: str, body: str) -> None:
    """One polling POST carrying a payload; ``TransportError`` unless it is accepted."""
    try:
        async with http.stream(
            "POST",
            url,
            content=body.encode("utf-8"),
            headers={"Content-Type": "text/plain;charset=UTF-8"},
        ) as response:
            await _read_capped(response, _ERROR_BODY_LIMIT)
    except httpx.HTTPError as exc:
        raise TransportError(f"xhr post error: {_describe(exc)}") from exc


async def _read_capped(response: httpx.Response, max_size: int) -> bytes:
    if response.status_code != 200:
        text = b""
        async for chunk in response.aiter_bytes():
            text += chunk
            if len(text) > _ERROR_BODY_LIMIT:
                break
        detail = text[:_ERROR_BODY_LIMIT].decode("utf-8", "replace")
        raise TransportError(f"HTTP {response.status_code}: {detail}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_size:
            raise TransportError(f"response larger than {max_size} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TransportError("response is not UTF-8") from exc


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def open_websocket(
    url: str,
    *,
    http: httpx.AsyncClient,
    headers: Mapping[str, str],
    ssl: SSLOption,
    max_size: int,
    open_timeout: float,
) -> ClientConnection:
    """Open a WebSocket, with the cookies of ``http``'s jar; ``TransportError`` on failure."""
    http_url = "http" + url[2:]  # ws://... -> http://..., wss://... -> https://...
    jar = http.cookies.jar
    all_headers = dict(headers)
    cookie = cookie_header(jar, http_url)
    if cookie:
        all_headers["Cookie"] = cookie
    options: dict[str, Any] = {}
    if url.startswith("wss:"):
        options["ssl"] = _ssl_context(ssl)
    try:
        ws = await connect(
            url,
            additional_headers=all_headers,
            max_size=max_size,
            open_timeout=open_timeout,
            ping_interval=None,  # Engine.IO has its own heartbeat
            close_timeout=2,
            **options,
        )
    except (OSError, TimeoutError, WebSocketException) as exc:
        raise TransportError(f"websocket error: {_describe(exc)}") from exc
    response = ws.response
    if response is not None:
        store_cookies(jar, http_url, response.headers.get_all("Set-Cookie"))
    return ws


def _ssl_context(option: SSLOption) -> ssl_module.SSLContext:
    if isinstance(option, ssl_module.SSLContext):
        return option
    context = ssl_module.create_default_context()
    if option is False:
        context.check_hostname = False
        context.verify_mode = ssl_module.CERT_NONE
    return context


def cookie_header(jar: CookieJar, url: str) -> str | None:
    """The ``Cookie`` header ``jar`` holds for ``url``, or None."""
    request = urllib.request.Request(url)
    jar.add_cookie_header(request)
    return request.get_header("Cookie")


class _HeadersResponse:
    """Just enough of a ``urllib`` response for ``CookieJar.extract_cookies``."""

    def __init__(self, set_cookies: Sequence[str]) -> None:
        self._message = email.message.Message()
        for value in set_cookies:
            self._message["Set-Cookie"] = value

    def info(self) -> email.message.Message:
        return self._message


def store_cookies(jar: CookieJar, url: str, set_cookies: Sequence[str]) -> None:
    """Keep the cookies of ``Set-Cookie`` headers received from ``url``."""
    if set_cookies:
        jar.extract_cookies(_HeadersResponse(set_cookies), urllib.request.Request(url))  # type: ignore[arg-type]


__all__ = [
    "ClientConnection",
    "ConnectionClosed",
    "Endpoint",
    "SSLOption",
    "TransportError",
    "cookie_header",
    "new_http_client",
    "open_websocket",
    "poll",
    "post",
    "store_cookies",
]
