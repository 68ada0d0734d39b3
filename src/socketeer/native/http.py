"""The native front-end's connection protocol: HTTP/1.1 (httptools) and WebSocket, one port.

One ``HTTPConnection`` (an ``asyncio.Protocol``) serves one TCP connection. It parses
HTTP/1.1 with ``httptools`` and hands requests for the Engine.IO path to
``EngineServer.handle_http``, one request at a time (keep-alive; pipelined requests wait
their turn). A request that asks for a WebSocket (RFC 6455 section 4.2) is handed to
``EngineServer.handle_websocket`` with the connection itself as the ``WebSocketChannel``:
on ``accept`` the same transport switches to the sans-I/O framing of ``websocket.py``; on
``reject`` the engine's HTTP response is sent and the connection closed. Every other path
is answered 404. The front-end only translates: CORS, sessions and refusals are the
engine's decisions. No extension is negotiated (permessage-deflate is refused: the
response carries no ``Sec-WebSocket-Extensions``), no subprotocol is selected.

A request is served by one task (``handle_http`` is a coroutine; on Python 3.12+ the task
starts eagerly, so a request the engine answers at once never waits for a loop
iteration); a held poll is the engine's future inside that task. A WebSocket is served by
one task for its lifetime, which wakes once per batch of received messages.

Closing: the server closes first (RFC 6455 section 7.1.1). After a response that ends the
connection, or a WebSocket failure, it half-closes (``write_eof``) and drops input until
the peer closes, for at most ``close_timeout`` seconds, so that unread input never turns
the close into a reset that could destroy the response. A WebSocket failure right behind
messages waits for the engine to take them, so their replies precede the close frame.

Writes are coalesced: whatever a connection produces during one event-loop iteration
(responses, frames of replies and broadcasts, control frames) is queued in order and sent
with one ``transport.write()`` when the loop next runs its ready callbacks, one flush
callback for all connections.

Limits, all options of ``NativeOptions``:

- request head: ``max_header_size`` bytes and ``max_headers`` fields (431); the whole request
  must arrive within ``request_timeout`` seconds of its first byte (else the connection is
  dropped); an idle keep-alive connection is closed after ``keep_alive_timeout`` seconds;
- request body: counted while it is read, at most the engine's ``max_http_buffer_size``;
  the engine answers 413 as soon as it is crossed, reading stops, the connection closes;
- pipelining: at most ``max_pipelined`` requests wait behind the one being served (reading
  pauses while any wait); beyond that the connection closes once those are answered;
- WebSocket: messages up to ``max_http_buffer_size`` bytes (declared lengths are checked
  before buffering; 1009), ``max_fragments`` frames per message; a closing handshake may
  take ``close_timeout`` seconds;
- output: when the peer does not read, reading from it stops (transport flow control:
  writes pause above 64 KiB in the transport) and once more than ``write_buffer_limit``
  bytes wait to be sent the connection is aborted (16 MiB by default);
- connections: ``max_connections`` (no limit by default); shutdown waits
  ``shutdown_timeout`` seconds for connections to finish, then drops them.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
import re
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from email.utils import formatdate
from http import HTTPStatus
from typing import Any, cast
from urllib.parse import parse_qsl, unquote

import httptools

from ..server.engine import EngineServer
from ..server.http import (
    BodyTooLarge,
    ConnectionLost,
    HTTPRequest,
    HTTPResponse,
    MessageTooLarge,
)
from . import websocket as wsproto
from .options import NativeOptions

logger = logging.getLogger("socketeer.native")


CreateTask = Callable[[Coroutine[Any, Any, None]], "asyncio.Future[None]"]


class Shared:
    """What every connection of one server shares: the engine, options and the flusher."""

    __slots__ = (
        "_create_task",
        "all_closed",
        "closing",
        "connections",
        "dirty",
        "engine",
        "flush_scheduled",
        "loop",
        "options",
        "path",
    )

    def __init__(self, engine: EngineServer, path: str, options: NativeOptions) -> None:
        self.engine = engine
        self.path = path
        self.options = options
        self.loop = asyncio.get_running_loop()
        self.connections: set[HTTPConnection] = set()
        self.dirty: list[HTTPConnection] = []
        self.flush_scheduled = False
        self.closing = False
        self.all_closed = asyncio.Event()
        self._create_task = _task_factory(self.loop)

    def matches(self, path: str) -> bool:
        """Whether ``path`` is the Engine.IO endpoint (with or without the final slash)."""
        return path == self.path or path == self.path[:-1]

    def start(self, coro: Coroutine[Any, Any, None]) -> asyncio.Future[None]:
        """Run ``coro``; on Python 3.12+ eagerly (no loop iteration until its first wait)."""
        return self._create_task(coro)

    def schedule(self, conn: HTTPConnection) -> None:
        """Flush ``conn`` at the end of this loop iteration (with every other dirty one)."""
        self.dirty.append(conn)
        if not self.flush_scheduled:
            self.flush_scheduled = True
            self.loop.call_soon(self.flush)

    def flush(self) -> None:
        """Write what each dirty connection queued, one ``transport.write`` each."""
        self.flush_scheduled = False
        dirty, self.dirty = self.dirty, []
        for conn in dirty:
            conn._flush()

    def forget(self, conn: HTTPConnection) -> None:
        self.connections.discard(conn)
        if self.closing and not self.connections:
            self.all_closed.set()


def _task_factory(loop: asyncio.AbstractEventLoop) -> CreateTask:
    eager = getattr(asyncio, "eager_task_factory", None)
    if eager is not None and sys.version_info >= (3, 12):  # pragma: no cover - 3.12+

        def create(coro: Coroutine[Any, Any, None]) -> asyncio.Future[None]:
            task: asyncio.Future[None] = eager(loop, coro)
            return task

        return create
    return loop.create_task


# -- HTTP serialization -----------------------------------------------------------------------

_REASONS = {status.value: status.phrase.encode("ascii") for status in HTTPStatus}
_FORBIDDEN_IN_HEADERS = re.compile(r"[\r\n\x00]")
_WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_date_cache: list[Any] = [0, b""]
_NAMES: dict[bytes, str] = {}  # raw header name -> its lower-case str (bounded)


def _date_line() -> bytes:
    now = int(time.time())
    if now != _date_cache[0]:
        _date_cache[0] = now
        _date_cache[1] = b"date: " + formatdate(now, usegmt=True).encode("ascii") + b"\r\n"
    line: bytes = _date_cache[1]
    return line


def _header_lines(headers: Sequence[tuple[str, str]], parts: list[bytes]) -> None:
    for name, value in headers:
        if _FORBIDDEN_IN_HEADERS.search(name) or _FORBIDDEN_IN_HEADERS.search(value):
            logger.error("dropped response header %r: it contains CR, LF or NUL", name)
            continue
        try:
            parts.append(f"{name}: {value}\r\n".encode("latin-1"))
        except UnicodeEncodeError:
            logger.error("dropped response header %r: not encodable as latin-1", name)


def serialize_response(response: HTTPResponse, *, keep_alive: bool, head: bool = False) -> bytes:
    """The bytes of an HTTP/1.1 response (``Content-Length`` framing)."""
    status = response.status
    parts = [b"HTTP/1.1 %d %s\r\n" % (status, _REASONS.get(status, b"Unknown"))]
    _header_lines(response.headers, parts)
    parts.append(b"content-length: %d\r\n" % len(response.body))
    parts.append(_date_line())
    if not keep_alive:
        parts.append(b"connection: close\r\n")
    parts.append(b"\r\n")
    if not head:
        parts.append(response.body)
    return b"".join(parts)


def _plain(status: int, text: str, headers: Sequence[tuple[str, str]] = ()) -> HTTPResponse:
    return HTTPResponse(
        status, [("Content-Type", "text/plain; charset=utf-8"), *headers], text.encode()
    )


def _has_token(value: str, token: str) -> bool:
    return any(part.strip().lower() == token for part in value.split(","))


def _valid_key(key: str) -> bool:
    try:
        return len(base64.b64decode(key.encode("ascii"), validate=True)) == 16
    except (binascii.Error, UnicodeEncodeError):
        return False


# -- one request ----------------------------------------------------------------------------


class _HeadTooLarge(Exception):
    """Raised from a parser callback: the request head crossed a limit."""


class _PipelineFull(Exception):
    """Raised from a parser callback: too many requests wait on this connection."""


class _Exchange:
    """One HTTP request of a connection; its body as the engine reads it (``HTTPBody``)."""

    __slots__ = (
        "body",
        "complete",
        "conn",
        "disconnect",
        "expect_continue",
        "keep_alive",
        "request",
        "size",
        "too_large",
        "upgrade",
        "waiter",
    )

    def __init__(self, conn: HTTPConnection, request: HTTPRequest, keep_alive: bool) -> None:
        self.conn = conn
        self.request = request
        self.keep_alive = keep_alive
        self.body: list[bytes] = []
        self.size = 0
        self.complete = False
        self.too_large = False
        self.upgrade = False
        self.expect_continue = False
        self.waiter: asyncio.Future[None] | None = None
        self.disconnect: asyncio.Future[None] | None = None

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def read(self, limit: int) -> bytes:
        """The whole body; ``BodyTooLarge`` once it exceeds ``limit``; ``ConnectionLost``."""
        conn = self.conn
        while True:
            if self.too_large or self.size > limit:
                self.too_large = True
                self.body = []
                conn._pause(_PAUSE_BODY)  # stop reading: the connection closes after the 413
                raise BodyTooLarge()
            if self.complete:
                return b"".join(self.body)
            if conn._lost or conn._parser is None:
                raise ConnectionLost()  # gone, or the rest of the request was unparsable
            if self.expect_continue:
                self.expect_continue = False
                conn._send(_CONTINUE)
            waiter = self.waiter = conn._shared.loop.create_future()
            await waiter

    async def wait_disconnect(self) -> None:
        """Return once the client has gone (while a poll is held)."""
        if self.conn._lost:
            return
        self.disconnect = future = self.conn._shared.loop.create_future()
        await future


# -- the connection -------------------------------------------------------------------------

_PAUSE_PIPELINE = 1  # requests are waiting behind the one being served
_PAUSE_WRITE = 2  # the transport's write buffer is full
_PAUSE_BODY = 4  # a body crossed the limit: nothing more is read before the close
_PAUSE_UPGRADE = 8  # a WebSocket handshake awaits the engine's decision

_AFTER_NOTHING = 0
_AFTER_CLOSE = 1  # close the transport once the queued output is written
_AFTER_LINGER = 2  # half-close, then drop input until the peer closes (or close_timeout)

_WS_NONE = 0
_WS_HANDSHAKE = 1  # handed to the engine, not yet accepted or rejected
_WS_ACCEPTED = 2
_WS_REJECTED = 3


class HTTPConnection(asyncio.Protocol):
    """One client connection: HTTP/1.1 requests, then possibly a WebSocket.

    It is also the ``WebSocketChannel`` the engine drives once a handshake reaches it.
    """

    __slots__ = (
        "_after",
        "_deadline",
        "_dirty",
        "_head_size",
        "_headers",
        "_held",
        "_in_request",
        "_inbox",
        "_inbox_pos",
        "_linger",
        "_lost",
        "_out",
        "_parse_failure",
        "_parser",
        "_parsing",
        "_paused",
        "_pending",
        "_queue",
        "_serving",
        "_shared",
        "_task",
        "_timer",
        "_too_large",
        "_url",
        "_waiter",
        "_write_paused",
        "_ws",
        "_ws_key",
        "_ws_phase",
        "transport",
    )

    def __init__(self, shared: Shared) -> None:
        self._shared = shared
        self.transport: asyncio.Transport | None = None
        self._parser: httptools.HttpRequestParser | None = httptools.HttpRequestParser(self)
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._head_size = 0
        self._in_request = False  # between the first byte of a request and its end
        self._parsing: _Exchange | None = None  # receiving its body
        self._serving: _Exchange | None = None  # handed to the engine
        self._queue: list[_Exchange] = []  # complete heads waiting for their turn (few)
        self._parse_failure = 0  # HTTP status to answer once the queue is served
        self._out: list[bytes] = []
        self._dirty = False
        self._after = _AFTER_NOTHING
        self._paused = 0
        self._write_paused = False
        self._lost = False
        self._linger = False
        self._deadline: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._ws: wsproto.ServerProtocol | None = None
        self._ws_phase = _WS_NONE
        self._ws_key = ""
        self._pending = b""  # bytes after a WebSocket handshake, before the engine accepts
        # received messages not yet taken by receive(): a list and a read position (a deque
        # costs ~600 bytes per connection, even empty)
        self._inbox: list[str | bytes] = []
        self._inbox_pos = 0
        self._waiter: asyncio.Future[None] | None = None
        self._too_large = False
        self._held = b""  # a failure's close frame, held until the engine took the messages
        self._task: asyncio.Future[None] | None = None  # the request or WebSocket being served

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it
        self.transport = transport = cast(asyncio.Transport, transport)
        shared = self._shared
        limit = shared.options.max_connections
        if shared.closing or (limit is not None and len(shared.connections) >= limit):
            self._lost = True
            transport.abort()
            return
        shared.connections.add(self)
        transport.set_write_buffer_limits(high=64 * 1024)
        self._set_deadline(shared.options.keep_alive_timeout)

    def data_received(self, data: bytes) -> None:
        ws = self._ws
        if ws is not None:
            self._ws_data(ws, data)
        elif self._linger:
            pass  # the response is sent; the rest of the input is dropped
        elif self._ws_phase != _WS_NONE or self._parser is None:
            self._pending += data  # a WebSocket handshake awaits the engine
        else:
            self._http_data(self._parser, data)

    def eof_received(self) -> bool:
        ws = self._ws
        if ws is not None and not self._linger:
            events = ws.receive_eof()  # nothing when the closing handshake was complete
            if events:
                self._ws_events(ws, events)
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._shared.forget(self)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._out.clear()
        ws = self._ws
        if ws is not None:
            ws.receive_eof()
            self._wake()
        self._queue.clear()
        exchange = self._serving
        if exchange is not None:
            exchange.wake()
            disconnect = exchange.disconnect
            if disconnect is not None and not disconnect.done():
                disconnect.set_result(None)

    def pause_writing(self) -> None:
        self._write_paused = True
        self._pause(_PAUSE_WRITE)

    def resume_writing(self) -> None:
        self._write_paused = False
        self._unpause(_PAUSE_WRITE)

    # -- output ----------------------------------------------------------------------------

    def _send(self, data: bytes) -> None:
        self._out.append(data)
        if not self._dirty:
            self._dirty = True
            self._shared.schedule(self)

    def _finish_with(self, after: int) -> None:
        """Close (or linger) once the queued output is written."""
        self._parser = None
        if self._after < after:
            self._after = after
        if not self._dirty:
            self._dirty = True
            self._shared.schedule(self)

    def _flush(self) -> None:
        self._dirty = False
        transport = self.transport
        out = self._out
        if self._lost or transport is None or transport.is_closing():
            out.clear()
            return
        if out:
            data = out[0] if len(out) == 1 else b"".join(out)
            out.clear()
            transport.write(data)
            if (
                self._write_paused
                and transport.get_write_buffer_size() > self._shared.options.write_buffer_limit
            ):
                logger.warning("aborting a connection that does not read its output")
                transport.abort()
                return
        after = self._after
        if after == _AFTER_CLOSE:
            self._after = _AFTER_NOTHING
            transport.close()
        elif after == _AFTER_LINGER:
            self._after = _AFTER_NOTHING
            self._start_linger(transport)

    def _start_linger(self, transport: asyncio.Transport) -> None:
        if self._linger:
            return
        if not transport.can_write_eof():  # TLS: no half-close
            transport.close()
            return
        self._linger = True
        transport.write_eof()
        self._set_deadline(self._shared.options.close_timeout)
        self._paused = 0
        if not transport.is_closing():
            transport.resume_reading()

    # -- reading flow control --------------------------------------------------------------

    def _pause(self, flag: int) -> None:
        transport = self.transport
        if not self._paused and transport is not None and not transport.is_closing():
            transport.pause_reading()
        self._paused |= flag

    def _unpause(self, flag: int) -> None:
        if self._paused & flag:
            self._paused &= ~flag
            transport = self.transport
            if not self._paused and transport is not None and not transport.is_closing():
                transport.resume_reading()

    # -- the one timer ---------------------------------------------------------------------

    def _set_deadline(self, delay: float) -> None:
        loop = self._shared.loop
        deadline = self._deadline = loop.time() + delay
        timer = self._timer
        if timer is None or deadline < timer.when():
            if timer is not None:
                timer.cancel()
            self._timer = loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        deadline = self._deadline
        if deadline is None or self._lost:
            return
        loop = self._shared.loop
        if loop.time() < deadline:
            self._timer = loop.call_at(deadline, self._on_timer)
            return
        self._deadline = None
        if self._held:
            self._release_close()  # the engine did not take its messages in time
            return
        transport = self.transport
        assert transport is not None
        idle = (
            not self._in_request
            and self._serving is None
            and self._ws_phase == _WS_NONE
            and not self._linger
            and not self._queue
        )
        if idle:
            transport.close()  # an idle keep-alive connection
            return
        logger.debug("connection timed out")
        transport.abort()

    # -- HTTP ------------------------------------------------------------------------------

    def _http_data(self, parser: httptools.HttpRequestParser, data: bytes) -> None:
        try:
            parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            offset: int = upgrade.args[0]
            self._parser = None
            self._pending = data[offset:]
            self._pause(_PAUSE_UPGRADE)
            if self._queue:
                self._queue[-1].upgrade = True
        except httptools.HttpParserError as exc:
            # The parser cannot go on: serve the complete requests, then answer and close.
            self._parser = None
            self._pause(_PAUSE_BODY)
            cause = exc.__context__
            self._parse_failure = (
                1
                if isinstance(cause, _PipelineFull)
                else 431
                if isinstance(cause, _HeadTooLarge)
                else 400
            )
            parsing, self._parsing = self._parsing, None
            self._in_request = False
            if parsing is not None:
                if parsing is self._serving:
                    parsing.wake()  # its read() raises ConnectionLost
                elif self._queue and self._queue[-1] is parsing:
                    self._queue.pop()
        if self._serving is None:
            self._next()

    # httptools callbacks

    def on_message_begin(self) -> None:
        if len(self._queue) > self._shared.options.max_pipelined:
            raise _PipelineFull()
        self._url = b""
        self._headers = []
        self._head_size = 0
        self._in_request = True
        self._set_deadline(self._shared.options.request_timeout)

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._head_size += len(url)
        if self._head_size > self._shared.options.max_header_size:
            raise _HeadTooLarge()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_size += len(name) + len(value) + 4
        if (
            self._head_size > self._shared.options.max_header_size
            or len(self._headers) >= self._shared.options.max_headers
        ):
            raise _HeadTooLarge()
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        parser = self._parser
        assert parser is not None
        headers: dict[str, str] = {}
        names = _NAMES
        for raw_name, raw_value in self._headers:
            name = names.get(raw_name)
            if name is None:
                name = raw_name.decode("latin-1").lower()
                if len(names) < 512:  # the usual names, shared by every request
                    names[raw_name] = name
            value = raw_value.decode("latin-1")
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        url = httptools.parse_url(self._url)
        query_string = url.query.decode("latin-1") if url.query else ""
        query: dict[str, str] = {}
        if query_string:
            for key, item in parse_qsl(query_string, keep_blank_values=True):
                query.setdefault(key, item)
        transport = self.transport
        peer = transport.get_extra_info("peername") if transport is not None else None
        request = HTTPRequest(
            method=parser.get_method().decode("ascii"),
            path=unquote(url.path.decode("latin-1")),
            query_string=query_string,
            query=query,
            headers=headers,
            client=(peer[0], peer[1]) if isinstance(peer, tuple) and len(peer) >= 2 else None,
            secure=transport is not None and transport.get_extra_info("sslcontext") is not None,
        )
        exchange = _Exchange(self, request, parser.should_keep_alive())
        exchange.expect_continue = headers.get("expect", "").lower() == "100-continue"
        self._headers = []
        self._url = b""
        self._parsing = exchange
        self._queue.append(exchange)
        if len(self._queue) > 1 or self._serving is not None:
            self._pause(_PAUSE_PIPELINE)

    def on_body(self, body: bytes) -> None:
        exchange = self._parsing
        if exchange is None or exchange.too_large:
            return
        exchange.size += len(body)
        if exchange.size > self._shared.engine.config.max_http_buffer_size:
            exchange.too_large = True
            exchange.body = []
            self._pause(_PAUSE_BODY)
        else:
            exchange.body.append(body)
        exchange.wake()

    def on_message_complete(self) -> None:
        exchange = self._parsing
        self._parsing = None
        self._in_request = False
        self._deadline = None
        if exchange is not None:
            exchange.complete = True
            exchange.wake()

    # serving, one request at a time

    def _next(self) -> None:
        """Serve the next complete request head, if any (and nothing is being served)."""
        while self._serving is None and not self._lost:
            queue = self._queue
            if not queue:
                failure = self._parse_failure
                if failure:
                    self._parse_failure = 0
                    if failure > 1:
                        response = _plain(failure, HTTPStatus(failure).phrase)
                        self._send(serialize_response(response, keep_alive=False))
                    self._finish_with(_AFTER_LINGER)
                elif not self._in_request and self._ws_phase == _WS_NONE:
                    self._unpause(_PAUSE_PIPELINE)
                    if self._parser is not None:
                        self._set_deadline(self._shared.options.keep_alive_timeout)
                return
            exchange = queue.pop(0)
            self._serving = exchange
            request = exchange.request
            if exchange.upgrade and _has_token(request.headers.get("upgrade", ""), "websocket"):
                self._start_websocket(exchange)
                return
            if exchange.upgrade:
                # An upgrade we do not speak (h2c...): answer as HTTP, then close. The parser
                # skipped its body, if any: refuse those.
                exchange.keep_alive = False
                headers = request.headers
                if headers.get("content-length", "0") != "0" or "transfer-encoding" in headers:
                    self._respond(exchange, _plain(400, "Bad Request"))
                    continue
            if not self._shared.matches(request.path):
                self._respond(exchange, _plain(404, "Not Found"))
                continue
            task = self._shared.start(self._serve_http(exchange))
            if not task.done():  # (eager tasks may finish at once, and serve the next one)
                self._task = task

    async def _serve_http(self, exchange: _Exchange) -> None:
        try:
            response = await self._shared.engine.handle_http(exchange.request, exchange)
        except Exception:  # a bug, or a user hook failed: answer 500, keep serving others
            logger.exception(
                "error while serving %s %s", exchange.request.method, exchange.request.path
            )
            response = _plain(500, "Internal Server Error")
        self._respond(exchange, response)
        self._next()

    def _respond(self, exchange: _Exchange, response: HTTPResponse) -> None:
        self._serving = None
        if self._lost:
            return
        keep_alive = (
            exchange.keep_alive
            and exchange.complete
            and not exchange.too_large
            and not self._shared.closing
            # after a parse failure, the requests parsed before it are still served
            and (self._parser is not None or self._parse_failure != 0)
        )
        head = exchange.request.method == "HEAD"
        self._send(serialize_response(response, keep_alive=keep_alive, head=head))
        if not keep_alive:
            self._queue.clear()
            self._parse_failure = 0
            self._finish_with(_AFTER_LINGER)

    # -- WebSocket handshake (RFC 6455 section 4.2) ------------------------------------------

    def _start_websocket(self, exchange: _Exchange) -> None:
        request = exchange.request
        headers = request.headers
        exchange.keep_alive = False
        if not self._shared.matches(request.path):
            self._respond(exchange, _plain(404, "Not Found"))
            return
        if request.method != "GET" or not _has_token(headers.get("connection", ""), "upgrade"):
            self._respond(exchange, _plain(400, "Bad Request"))
            return
        if headers.get("sec-websocket-version") != "13":
            self._respond(
                exchange,
                _plain(426, "Upgrade Required", [("Sec-WebSocket-Version", "13")]),
            )
            return
        key = headers.get("sec-websocket-key", "")
        if not _valid_key(key):
            self._respond(exchange, _plain(400, "Bad Request"))
            return
        self._ws_key = key
        self._ws_phase = _WS_HANDSHAKE
        self._deadline = None
        if self._timer is not None:  # an idle WebSocket holds no timer
            self._timer.cancel()
            self._timer = None
        task = self._shared.start(self._serve_websocket(request))
        if not task.done():
            self._task = task

    async def _serve_websocket(self, request: HTTPRequest) -> None:
        try:
            await self._shared.engine.handle_websocket(request, self)
        except Exception:  # a bug, or a user hook failed
            logger.exception("error while serving a WebSocket on %s", request.path)
            if self._ws_phase == _WS_HANDSHAKE:
                await self.reject(_plain(500, "Internal Server Error"))
            self.close(wsproto.CloseCode.INTERNAL_ERROR)
        else:
            if self._ws_phase == _WS_HANDSHAKE:  # pragma: no cover - the engine always answers
                await self.reject(_plain(500, "Internal Server Error"))
            self.close()

    # -- WebSocketChannel ------------------------------------------------------------------

    async def accept(self, headers: Sequence[tuple[str, str]]) -> None:
        """Complete the opening handshake; the connection speaks WebSocket from now on."""
        if self._ws_phase != _WS_HANDSHAKE:
            return
        self._ws_phase = _WS_ACCEPTED
        self._serving = None
        accept = base64.b64encode(hashlib.sha1(self._ws_key.encode() + _WS_GUID).digest())
        parts = [
            b"HTTP/1.1 101 Switching Protocols\r\n"
            b"upgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ",
            accept,
            b"\r\n",
        ]
        _header_lines(headers, parts)
        parts.append(b"\r\n")
        self._send(b"".join(parts))
        engine = self._shared.engine
        ws = self._ws = wsproto.ServerProtocol(
            max_message_size=engine.config.max_http_buffer_size,
            max_fragments=self._shared.options.max_fragments,
        )
        pending, self._pending = self._pending, b""
        if pending:
            # frames sent right behind the request: after the engine's first write (the
            # open packet), and before anything read later
            self._shared.loop.call_soon(self._accept_pending, ws, pending)
        else:
            self._unpause(_PAUSE_UPGRADE)

    def _accept_pending(self, ws: wsproto.ServerProtocol, pending: bytes) -> None:
        if not self._lost:
            self._ws_data(ws, pending)
            self._unpause(_PAUSE_UPGRADE)

    async def reject(self, response: HTTPResponse) -> None:
        """Refuse the opening handshake with the engine's HTTP response."""
        if self._ws_phase != _WS_HANDSHAKE:
            return
        self._ws_phase = _WS_REJECTED
        self._pending = b""
        self._serving = None
        if not self._lost:
            self._send(serialize_response(response, keep_alive=False))
            self._finish_with(_AFTER_LINGER)

    async def receive(self) -> str | bytes | None:
        """The next message; None once the peer closed (``MessageTooLarge`` after a 1009)."""
        inbox = self._inbox
        while self._inbox_pos >= len(inbox):
            ws = self._ws
            if ws is None or ws.state is wsproto.State.CLOSED or self._lost:
                if self._held:
                    self._release_close()
                if self._too_large:
                    self._too_large = False
                    raise MessageTooLarge()
                return None
            waiter = self._waiter = self._shared.loop.create_future()
            try:
                await waiter
            finally:
                self._waiter = None
        pos = self._inbox_pos
        message = inbox[pos]
        pos += 1
        if pos == len(inbox):
            inbox.clear()
            pos = 0
        self._inbox_pos = pos
        return message

    def write(self, messages: Sequence[str | bytes]) -> None:
        """Queue messages as frames; they go out with this loop iteration's other output."""
        ws = self._ws
        if ws is None or (ws.state is not wsproto.State.OPEN and not self._held) or self._lost:
            return
        out = self._out
        encode = wsproto.encode_message
        for message in messages:
            out.append(encode(message))
        if not self._dirty:
            self._dirty = True
            self._shared.schedule(self)

    def close(self, code: int = 1000) -> None:
        """Start the closing handshake after the queued messages."""
        if self._held:
            self._release_close()
        ws = self._ws
        if ws is None or ws.state is not wsproto.State.OPEN or self._lost:
            return
        ws.close(code)
        self._send(ws.data_to_send())
        self._set_deadline(self._shared.options.close_timeout)

    # -- WebSocket input -------------------------------------------------------------------

    def _ws_data(self, ws: wsproto.ServerProtocol, data: bytes) -> None:
        events = ws.receive_data(data)
        control = ws.data_to_send()
        if control:
            if ws.failed and (len(events) > 1 or self._inbox_pos < len(self._inbox)):
                # A protocol error right behind messages: the replies to those messages go
                # out before the close frame (the engine takes them in the next iteration).
                self._held = control
                self._set_deadline(self._shared.options.close_timeout)
            else:
                self._send(control)
        if events:
            self._ws_events(ws, events)

    def _release_close(self) -> None:
        held, self._held = self._held, b""
        self._send(held)
        self._finish_with(_AFTER_LINGER)

    def _ws_events(self, ws: wsproto.ServerProtocol, events: list[wsproto.Event]) -> None:
        last = events[-1]
        if isinstance(last, wsproto.Closed):
            events.pop()
            if last.error and last.code == wsproto.CloseCode.MESSAGE_TOO_BIG:
                self._too_large = True
            if not self._held:
                self._deadline = None
                self._finish_with(_AFTER_LINGER if ws.failed else _AFTER_CLOSE)
        if events:
            self._inbox.extend(events)  # type: ignore[arg-type]  # only messages are left
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- shutdown --------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Server shutdown: close when idle, after the current response, or the WebSocket."""
        transport = self.transport
        if self._lost or transport is None:
            return
        if self._ws is not None:
            self.close(wsproto.CloseCode.GOING_AWAY)
        elif (
            self._serving is None
            and not self._in_request
            and not self._queue
            and self._ws_phase == _WS_NONE
            and not self._linger
        ):
            transport.close()

    def abort(self) -> None:
        """Drop the connection at once."""
        if not self._lost and self.transport is not None:
            self.transport.abort()


__all__ = ["HTTPConnection", "Shared", "serialize_response"]
