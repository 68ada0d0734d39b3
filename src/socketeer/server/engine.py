"""The asyncio Engine.IO server: sessions, timers, held polls and WebSockets.

It drives ``engineio.ServerSession`` state machines. After every call into a session the
runtime *settles* it (aioquic's ``_transmit`` pattern): it dispatches the session's
events, answers a held poll if there is something to say, writes WebSocket messages,
re-arms the one timer of the session, and forgets the session once it is closed.

Front-ends (``socketeer.ASGIApp``, the native server) call ``handle_http`` and
``handle_websocket``; users listen to ``connection`` and ``connection_error`` here, and to
``message``, ``close``, ``upgrade``, ``upgrading`` and ``drain`` on each ``EngineSocket``.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

from .. import engineio as eio
from .._emitter import Emitter, spawn
from .._types import SessionId
from .http import (
    BodyTooLarge,
    ConnectionLost,
    CorsOptions,
    HTTPBody,
    HTTPRequest,
    HTTPResponse,
    MessageTooLarge,
    OriginPolicy,
    WebSocketChannel,
    compress,
)

logger = logging.getLogger("socketeer.engine")

HeadersHook = Callable[[dict[str, str], HTTPRequest], None]
AllowRequest = Callable[[HTTPRequest], bool | str | Awaitable[bool | str]]

_TEXT_HEADERS = [("Content-Type", "text/plain; charset=UTF-8")]
_WS_CLOSE_TOO_BIG = 1009


@dataclass(frozen=True, slots=True, kw_only=True)
class CookieOptions:
    """The session cookie sent with the handshake (off unless given; JS ``cookie``)."""

    name: str = "io"
    path: str = "/"
    httponly: bool = True
    samesite: str = "Lax"
    secure: bool = False

    def header(self, sid: str) -> str:
        """The ``Set-Cookie`` value for session ``sid``."""
        parts = [f"{self.name}={sid}", f"Path={self.path}"]
        if self.httponly:
            parts.append("HttpOnly")
        if self.samesite:
            parts.append(f"SameSite={self.samesite}")
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class EngineConnectionError:
    """A refused request, as reported by the ``connection_error`` event."""

    request: HTTPRequest
    code: eio.ErrorCode
    message: str
    context: str


def default_id() -> str:
    """A 20-character URL-safe random id, like the JS server's base64id."""
    return base64.urlsafe_b64encode(os.urandom(15)).decode("ascii")


class EngineSocket(Emitter):
    """One Engine.IO session as users see it (the JS engine.io ``Socket``).

    Events: ``message(data)``, ``close(reason, description)``, ``upgrading(transport)``,
    ``upgrade(transport)``, ``drain()``.
    """

    __slots__ = (
        "_closed_event",
        "_loop",
        "_poll_waiter",
        "_settling",
        "_timer",
        "_timer_at",
        "_ws",
        "on_message",
        "request",
        "server",
        "session",
        "sid",
    )

    def __init__(self, server: EngineServer, session: eio.ServerSession, request: HTTPRequest):
        super().__init__()
        self._loop = asyncio.get_running_loop()
        # A direct receiver of messages (the Socket.IO layer sets it): called before the
        # "message" listeners, without going through the emitter.
        self.on_message: Callable[[str | bytes], None] | None = None
        self.server = server
        self.session = session
        self.sid = session.sid
        self.request = request
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._poll_waiter: asyncio.Future[str] | None = None
        self._ws: WebSocketChannel | None = None
        self._settling = False
        self._closed_event = asyncio.Event()

    @property
    def transport(self) -> str:
        """The current transport name: "polling" or "websocket"."""
        return self.session.transport.value

    @property
    def closed(self) -> bool:
        """Whether the session is over."""
        return self.session.closed

    @property
    def writable(self) -> bool:
        """Whether a message sent now goes out at once (for volatile messages)."""
        return self.session.writable

    def send(self, data: str | bytes) -> bool:
        """Queue a message; False when the session is closing (the message is dropped)."""
        ws = self._ws
        if ws is not None and self.session.direct and not self._settling:
            # The hot path: an open WebSocket with nothing queued (see ServerSession.direct).
            ws.write(("4" + data,) if type(data) is str else (data,))
            self._emit_background("drain")
            return True
        sent = self.session.send_message(data)
        self._settle()
        return sent

    def send_many(self, messages: Iterable[str | bytes]) -> bool:
        """Queue several messages in order, settling the session once."""
        session = self.session
        sent = True
        for data in messages:
            sent = session.send_message(data) and sent
        self._settle()
        return sent

    def close(self, reason: eio.CloseReason = eio.CloseReason.FORCED_CLOSE) -> None:
        """Close from the server side, after queued messages are delivered."""
        self.session.close(self.server._now(), reason)
        self._settle()

    async def wait_closed(self) -> None:
        """Return once the session is over."""
        await self._closed_event.wait()

    # -- the settle loop -------------------------------------------------------------------

    def _settle(self) -> None:
        if self._settling:
            return  # the running settle loop picks up what this call changed
        self._settling = True
        try:
            session = self.session
            events = session.events_received()
            while True:
                for event in events:
                    self._dispatch(event)
                waiter = self._poll_waiter
                if waiter is not None and not waiter.done():
                    body = session.poll_response()
                    if body is not None:
                        self._poll_waiter = None
                        waiter.set_result(body)
                        self._emit_background("drain")
                ws = self._ws
                if ws is not None:
                    messages = session.ws_messages_to_send()
                    if messages:
                        ws.write(messages)
                        self._emit_background("drain")
                events = session.events_received()
                if not events:
                    break
            if session.closed:
                self._teardown()
            else:
                self._arm_timer()
        finally:
            self._settling = False

    def _dispatch(self, event: eio.Event) -> None:
        match event:
            case eio.MessageReceived(data):
                if self.on_message is not None:
                    self.on_message(data)
                self._emit_background("message", data)
            case eio.UpgradeCompleted():
                self._emit_background("upgrade", self.transport)
            case eio.UpgradeAborted(description):
                logger.debug("upgrade of %s aborted: %s", self.sid, description)
                ws, self._ws = self._ws, None
                if ws is not None:
                    ws.close()
            case eio.SessionClosed(reason, description):
                logger.debug("session %s closed: %s (%s)", self.sid, reason, description)
                self._emit_background("close", reason.value, description)

    def _arm_timer(self) -> None:
        deadline = self.session.next_deadline()
        if deadline == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = None if deadline is None else self._loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = self._timer_at = None
        self.session.handle_timer(self._loop.time())
        self._settle()

    def _teardown(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = self._timer_at = None
        waiter = self._poll_waiter
        if waiter is not None and not waiter.done():
            body = self.session.poll_response()
            waiter.set_result(body if body is not None else "1")
        self._poll_waiter = None
        if self._ws is not None:
            self._ws.close()
            self._ws = None
        self.server._forget(self)
        self._closed_event.set()


class EngineServer(Emitter):
    """An Engine.IO v4 server on asyncio, independent of any HTTP front-end.

    Args:
        ping_interval: seconds between server pings (25).
        ping_timeout: seconds to wait for a pong (20).
        upgrade_timeout: seconds a WebSocket probe may take to complete the upgrade (10).
        max_http_buffer_size: the largest POST body or WebSocket message, in bytes (1e6).
        max_payload_packets: the most packets in one polling payload (10,000).
        transports: allowed transports.
        allow_upgrades: whether polling sessions may upgrade to WebSocket.
        cors_allowed_origins: ``None`` (same origin only), ``"*"``, a list or a callable.
        cors_credentials: send ``Access-Control-Allow-Credentials``.
        cors: full CORS options (instead of the two arguments above).
        allow_request: ``(request) -> bool | str`` (may be async), called on handshakes;
            False or a string (the message) refuses the request with code 4 Forbidden.
        cookie: send a session cookie with the handshake (off by default).
        generate_id: ``() -> str`` producing session ids (may be async).
        http_compression: compress polling responses with gzip/deflate.
        compression_threshold: only bodies of at least this many bytes are compressed.

    Events: ``connection(socket)``, ``connection_error(EngineConnectionError)``,
    ``initial_headers(headers, request)`` and ``headers(headers, request)`` (mutate
    ``headers``, a dict, to add response headers to handshakes / every response).
    """

    def __init__(
        self,
        *,
        ping_interval: float = 25.0,
        ping_timeout: float = 20.0,
        upgrade_timeout: float = 10.0,
        max_http_buffer_size: int = 1_000_000,
        max_payload_packets: int = 10_000,
        transports: Sequence[str] = ("polling", "websocket"),
        allow_upgrades: bool = True,
        cors_allowed_origins: OriginPolicy = None,
        cors_credentials: bool = False,
        cors: CorsOptions | None = None,
        allow_request: AllowRequest | None = None,
        cookie: CookieOptions | bool | None = None,
        generate_id: Callable[[], str | Awaitable[str]] = default_id,
        http_compression: bool = True,
        compression_threshold: int = 1024,
    ) -> None:
        super().__init__()
        self.config = eio.EngineConfig(
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            upgrade_timeout=upgrade_timeout,
            max_http_buffer_size=max_http_buffer_size,
            max_payload_packets=max_payload_packets,
            transports=tuple(eio.Transport(t) for t in transports),
            allow_upgrades=allow_upgrades,
        )
        self.cors = cors or CorsOptions(origins=cors_allowed_origins, credentials=cors_credentials)
        self.allow_request = allow_request
        self.cookie = CookieOptions() if cookie is True else (cookie or None)
        self.generate_id = generate_id
        self.http_compression = http_compression
        self.compression_threshold = compression_threshold
        self.sockets: dict[SessionId, EngineSocket] = {}
        self._closing = False

    @property
    def clients_count(self) -> int:
        """How many sessions are open."""
        return len(self.sockets)

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    def _forget(self, socket: EngineSocket) -> None:
        if self.sockets.get(socket.sid) is socket:
            del self.sockets[socket.sid]

    async def close(self, reason: eio.CloseReason = eio.CloseReason.SERVER_SHUTTING_DOWN) -> None:
        """Close every session and refuse new ones; held polls are answered at once."""
        self._closing = True
        now = self._now()
        for socket in list(self.sockets.values()):
            socket.session.close(now, reason, wait_for_poll=False)
            socket._settle()

    # -- HTTP ------------------------------------------------------------------------------

    async def handle_http(self, request: HTTPRequest, body: HTTPBody) -> HTTPResponse:
        """Answer one polling request (or a CORS preflight)."""
        if not await self.cors.allows(request):
            return self._refuse_origin(request)
        if request.method == "OPTIONS":
            return HTTPResponse(204, self.cors.preflight_headers(request))
        parsed = eio.parse_request(
            method=request.method, query=request.query, websocket=False, config=self.config
        )
        if isinstance(parsed, eio.EngineError):
            return self._refuse(request, parsed)
        if parsed.sid is None:
            return await self._handshake_polling(request)
        socket = self.sockets.get(parsed.sid)
        error = eio.check_session(parsed, socket.session if socket else None)
        if error is not None or socket is None:
            return self._refuse(request, error or eio.EngineError.of(eio.ErrorCode.UNKNOWN_SID))
        if request.method == "GET":
            return await self._poll(socket, request, body)
        return await self._post(socket, request, body)

    async def _handshake_polling(self, request: HTTPRequest) -> HTTPResponse:
        socket, refusal = await self._open_session(request, eio.Transport.POLLING)
        if socket is None:
            assert refusal is not None
            return refusal
        session = socket.session
        session.begin_poll(self._now())
        open_body = session.poll_response()
        assert open_body is not None
        headers = self._headers(request, initial=True, sid=socket.sid)
        await self._announce(socket)
        return self._text_response(request, open_body, headers)

    async def _open_session(
        self, request: HTTPRequest, transport: eio.Transport
    ) -> tuple[EngineSocket | None, HTTPResponse | None]:
        if self._closing:
            return None, self._refuse(
                request, eio.EngineError.of(eio.ErrorCode.BAD_REQUEST, "server shutting down")
            )
        if self.allow_request is not None:
            verdict = self.allow_request(request)
            if not isinstance(verdict, bool | str):
                verdict = await verdict
            if verdict is not True:
                message = verdict if isinstance(verdict, str) else None
                return None, self._refuse(
                    request,
                    eio.EngineError.of(
                        eio.ErrorCode.FORBIDDEN, "refused by allow_request", message=message
                    ),
                )
        sid = self.generate_id()
        if not isinstance(sid, str):
            sid = await sid
        session = eio.ServerSession(SessionId(sid), self.config, transport, self._now())
        socket = EngineSocket(self, session, request)
        self.sockets[socket.sid] = socket
        return socket, None

    async def _announce(self, socket: EngineSocket) -> None:
        """Run the connection handlers before any message of the session is processed."""
        for awaitable in self._emit("connection", socket):
            try:
                await awaitable
            except Exception:  # a user handler failed; the session goes on
                logger.exception("error in 'connection' handler")
        socket._settle()

    async def _poll(
        self, socket: EngineSocket, request: HTTPRequest, body: HTTPBody
    ) -> HTTPResponse:
        session = socket.session
        error = session.begin_poll(self._now())
        if error is not None:
            socket._settle()
            return self._refuse(request, error)
        waiter: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        socket._poll_waiter = waiter
        socket._settle()
        if not waiter.done():
            disconnect = asyncio.ensure_future(body.wait_disconnect())
            try:
                await asyncio.wait((waiter, disconnect), return_when=asyncio.FIRST_COMPLETED)
            finally:
                disconnect.cancel()
            if not waiter.done():
                # The client went away while the poll was held.
                socket._poll_waiter = None
                waiter.cancel()
                session.abort_poll(self._now())
                socket._settle()
                return HTTPResponse(400)
        return self._text_response(request, waiter.result(), self._headers(request))

    async def _post(
        self, socket: EngineSocket, request: HTTPRequest, body: HTTPBody
    ) -> HTTPResponse:
        session = socket.session
        error = session.begin_post(self._now())
        if error is not None:
            socket._settle()
            return self._refuse(request, error)
        try:
            data = await body.read(self.config.max_http_buffer_size)
        except BodyTooLarge:
            session.abort_post(self._now(), "payload too large")
            socket._settle()
            return HTTPResponse(413, list(self._headers(request).items()))
        except ConnectionLost:
            session.abort_post(self._now(), "post connection closed prematurely")
            socket._settle()
            return HTTPResponse(400)
        error = session.receive_post(data, self._now())
        socket._settle()
        if error is not None:
            return self._refuse(request, error)
        return HTTPResponse(200, [*self._headers(request).items(), *_TEXT_HEADERS], b"ok")

    # -- WebSocket -------------------------------------------------------------------------

    async def handle_websocket(self, request: HTTPRequest, channel: WebSocketChannel) -> None:
        """Serve one WebSocket until it closes: a new session, or an upgrade probe."""
        if not await self.cors.allows(request):
            await channel.reject(self._refuse_origin(request))
            return
        parsed = eio.parse_request(
            method=request.method, query=request.query, websocket=True, config=self.config
        )
        if isinstance(parsed, eio.EngineError):
            await channel.reject(self._refuse(request, parsed))
            return
        if parsed.sid is None:
            socket, refusal = await self._open_session(request, eio.Transport.WEBSOCKET)
            if socket is None:
                assert refusal is not None
                await channel.reject(refusal)
                return
            headers = self._headers(request, initial=True, sid=socket.sid)
            await channel.accept(list(headers.items()))
            channel.write(socket.session.ws_messages_to_send())  # the open packet
            socket._ws = channel
            await self._announce(socket)
        else:
            socket = self.sockets.get(parsed.sid)
            error = eio.check_session(parsed, socket.session if socket else None)
            if error is None and socket is not None:
                error = socket.session.begin_upgrade(self._now())
            if error is not None or socket is None:
                await channel.reject(
                    self._refuse(request, error or eio.EngineError.of(eio.ErrorCode.UNKNOWN_SID))
                )
                return
            await channel.accept(list(self._headers(request).items()))
            socket._ws = channel
            socket._settle()
        await self._read_websocket(socket, channel)

    async def _read_websocket(self, socket: EngineSocket, channel: WebSocketChannel) -> None:
        session = socket.session
        upgrading = session.transport is eio.Transport.POLLING
        while socket._ws is channel:
            try:
                data = await channel.receive()
            except MessageTooLarge:
                session.ws_error(self._now(), "message too large")
                socket._settle()
                break
            if data is None:
                session.ws_closed(self._now())
                socket._settle()
                break
            if session.direct and (type(data) is bytes or data[:1] == "4"):
                # The hot path: a plain message on an open WebSocket (ServerSession.direct).
                message = data if type(data) is bytes else data[1:]
                if socket.on_message is not None:
                    socket.on_message(message)
                socket._emit_background("message", message)
                continue
            session.receive_ws(data, socket._loop.time())
            if upgrading and session.state is eio.SessionState.UPGRADING:
                upgrading = False
                socket._emit_background("upgrading", "websocket")
            socket._settle()
        if socket._ws is channel:
            socket._ws = None

    # -- responses -------------------------------------------------------------------------

    def _headers(
        self, request: HTTPRequest, *, initial: bool = False, sid: str | None = None
    ) -> dict[str, str]:
        headers: dict[str, str] = dict(self.cors.response_headers(request))
        if initial:
            if self.cookie is not None and sid is not None:
                headers["Set-Cookie"] = self.cookie.header(sid)
            for awaitable in self._emit("initial_headers", headers, request):
                spawn(awaitable, "initial_headers")
        for awaitable in self._emit("headers", headers, request):
            spawn(awaitable, "headers")
        return headers

    def _text_response(
        self, request: HTTPRequest, text: str, headers: dict[str, str]
    ) -> HTTPResponse:
        data = text.encode("utf-8")
        items = [*headers.items(), *_TEXT_HEADERS]
        if self.http_compression and len(data) >= self.compression_threshold:
            accept = request.headers.get("accept-encoding", "")
            data, encoding = compress(data, accept)
            if encoding is not None:
                items.append(("Content-Encoding", encoding))
        return HTTPResponse(200, items, data)

    def _refuse_origin(self, request: HTTPRequest) -> HTTPResponse:
        """Refuse a request from an origin that is not allowed, without CORS headers."""
        error = eio.EngineError.of(
            eio.ErrorCode.FORBIDDEN, "origin not allowed", message="Not an accepted origin"
        )
        return self._refuse(request, error, cors=False)

    def _refuse(
        self, request: HTTPRequest, error: eio.EngineError, *, cors: bool = True
    ) -> HTTPResponse:
        logger.debug(
            "refused %s %s: %s (%s)", request.method, request.path, error.message, error.context
        )
        self._emit_background(
            "connection_error",
            EngineConnectionError(request, error.code, error.message, error.context),
        )
        headers = [("Content-Type", "application/json")]
        if cors:
            headers[:0] = self.cors.response_headers(request)
        return HTTPResponse(error.status, headers, error.body())


__all__ = [
    "CookieOptions",
    "EngineConnectionError",
    "EngineServer",
    "EngineSocket",
    "default_id",
]
