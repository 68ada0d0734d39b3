"""``Manager``: one Engine.IO connection shared by namespace sockets, with reconnection.

The JS ``Manager`` (socket.io-client ``lib/manager.ts``) on asyncio. It owns the Engine.IO
connection and the packet decoder, routes decoded packets to the namespace sockets, and
reconnects with exponential backoff and jitter when the connection drops. One task runs
the connect / wait / reconnect loop; everything else happens in event handlers, in order.

Manager events (``client.io.on(...)``): ``open()``, ``close(reason)``, ``ping()``,
``error(exception)``, ``reconnect_attempt(attempt)``, ``reconnect(attempt)``,
``reconnect_error(exception)``, ``reconnect_failed()``; and, from the Engine.IO connection
(the JS ``socket.io.engine`` events), ``upgrade(transport)`` and ``upgrade_error(description)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._emitter import Emitter
from ..engineio.config import Transport
from ..engineio.events import CloseReason
from ..exceptions import ConnectionFailed, RemoteProtocolError
from ..socketio.codecs import Codec, JsonCodec
from ..socketio.packets import Packet
from .engine import EngineClient
from .transports import Endpoint, SSLOption, TransportError, new_http_client

if TYPE_CHECKING:
    import httpx

    from .client import Auth, ClientSocket

logger = logging.getLogger("socketeer.client")

_MAX_EXPONENT = 64  # 2 ** 64 times any delay is past any sensible delay_max


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientOptions:
    """The options of a ``Client`` / ``Manager``; durations are seconds.

    Attributes:
        path: the server's endpoint path.
        transports: the transports to use, the first one to open with.
        upgrade: upgrade from polling to WebSocket when the server offers it.
        remember_upgrade: after a WebSocket worked once, open with WebSocket directly.
        try_all_transports: when a transport fails to open, try the next one.
        headers: extra HTTP headers (polling requests and WebSocket handshakes).
        query: extra query parameters.
        reconnection: reconnect when the connection drops.
        reconnection_attempts: give up (``reconnect_failed``) after this many attempts.
        reconnection_delay: the first delay; doubled at each attempt...
        reconnection_delay_max: ...up to this.
        randomization_factor: the jitter: each delay is moved by up to this fraction.
        timeout: the time allowed to open the Engine.IO connection (and a WebSocket probe).
        retries: with ``retries > 0`` events are queued and sent one at a time, each
            resent up to ``retries`` times until acknowledged (pair it with ``ack_timeout``).
        ack_timeout: the default acknowledgement timeout (None: wait forever).
        codec: the packet codec (``JsonCodec()`` by default, or ``MsgpackCodec()``).
        ssl: TLS: None / True (verify), False (do not verify), or an ``ssl.SSLContext``.
        max_message_size: the largest WebSocket message or polling response accepted, in
            bytes; larger closes the connection with "transport error".
        max_payload_packets: the most packets accepted in one polling response.
        max_buffered_events: the most events a socket holds while it cannot send them
            (emitted while disconnected, or queued with ``retries``); past it ``emit``
            raises ``BufferFull``. Volatile events are never buffered.
        max_buffered_bytes: the most bytes (encoded) those events may take together.
        max_receive_buffer: the most events a server may send before it confirms a
            namespace connection (recovery replays them first); past it: "parse error".
        max_pending_handlers: the most async handlers running at once; past it the
            connection stops reading until some finish (backpressure, so a flooding server
            cannot make the client queue unbounded work).
    """

    path: str = "/socket.io/"
    transports: tuple[str, ...] = ("polling", "websocket")
    upgrade: bool = True
    remember_upgrade: bool = False
    try_all_transports: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    reconnection: bool = True
    reconnection_attempts: float = math.inf
    reconnection_delay: float = 1.0
    reconnection_delay_max: float = 5.0
    randomization_factor: float = 0.5
    timeout: float = 20.0
    retries: int = 0
    ack_timeout: float | None = None
    codec: Codec | None = None
    ssl: SSLOption = None
    max_message_size: int = 10_000_000
    max_payload_packets: int = 10_000
    max_buffered_events: int = 1_000
    max_buffered_bytes: int = 10_000_000
    max_receive_buffer: int = 10_000
    max_pending_handlers: int = 1_000

    def __post_init__(self) -> None:
        transports = tuple(Transport(t) for t in self.transports)
        if not transports:
            raise ValueError("at least one transport is needed")
        object.__setattr__(self, "transports", tuple(t.value for t in transports))
        object.__setattr__(self, "headers", dict(self.headers))
        object.__setattr__(self, "query", dict(self.query))
        for name in ("reconnection_delay", "reconnection_delay_max", "timeout"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"{name} must be positive, got {value!r}")
        if not 0 <= self.randomization_factor <= 1:
            raise ValueError("randomization_factor must be between 0 and 1")
        if not self.reconnection_attempts >= 0:
            raise ValueError("reconnection_attempts must not be negative")
        if self.retries < 0:
            raise ValueError("retries must not be negative")
        if self.ack_timeout is not None and not self.ack_timeout > 0:
            raise ValueError("ack_timeout must be positive")
        for name in (
            "max_message_size",
            "max_payload_packets",
            "max_buffered_events",
            "max_buffered_bytes",
            "max_pending_handlers",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.max_receive_buffer < 0:
            raise ValueError("max_receive_buffer must not be negative")

    @property
    def engine_transports(self) -> tuple[Transport, ...]:
        return tuple(Transport(t) for t in self.transports)


def backoff_delay(
    attempt: int,
    *,
    delay: float,
    delay_max: float,
    jitter: float,
    rand: Callable[[], float] = random.random,
) -> float:
    """The delay before reconnection attempt ``attempt + 1`` (socket.io-client ``backo2``).

    ``delay * 2 ** attempt``, moved up or down by up to ``jitter`` of itself, at most
    ``delay_max``.
    """
    duration = delay * 2.0 ** min(attempt, _MAX_EXPONENT)
    if jitter:
        draw = rand()
        deviation = math.floor(draw * jitter * duration * 1000) / 1000
        duration = duration - deviation if math.floor(draw * 10) & 1 == 0 else duration + deviation
    return min(duration, delay_max)


class Manager(Emitter):
    """One Engine.IO connection multiplexing namespace sockets, reconnecting as needed.

    Usually made by ``Client``; ``client.io`` is its manager and ``client.socket("/nsp")``
    adds sockets to it.
    """

    def __init__(self, url: str, options: ClientOptions) -> None:
        super().__init__()
        self.url = url
        self.options = options
        self.endpoint = Endpoint.parse(url, options.path, options.query)
        self.codec: Codec = options.codec or JsonCodec()
        self.encoder = self.codec.encoder()
        self._decoder = self.codec.decoder()
        self.sockets: dict[str, ClientSocket] = {}
        self.engine: EngineClient | None = None
        self._http: httpx.AsyncClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._skip_reconnect = False
        self._ready = "closed"
        self._reconnecting = False
        self._prior_websocket = False
        self._attachment_timer: asyncio.TimerHandle | None = None
        self._handler_tasks: set[asyncio.Task[Any]] = set()
        self._handler_room = asyncio.Event()

    def __repr__(self) -> str:
        return f"<Manager {self.url} {self._ready}>"

    # -- state -----------------------------------------------------------------------------

    @property
    def ready_state(self) -> str:
        """ "closed", "opening" or "open" (JS ``_readyState``)."""
        return self._ready

    @property
    def reconnecting(self) -> bool:
        """Whether a reconnection is under way (waiting for the delay or connecting)."""
        return self._reconnecting

    @property
    def transport(self) -> str | None:
        """The transport of the current connection ("polling" / "websocket"), if any."""
        return None if self.engine is None else self.engine.transport

    # -- sockets ---------------------------------------------------------------------------

    def socket(self, namespace: str = "/", *, auth: Auth = None) -> ClientSocket:
        """The socket for ``namespace`` on this connection, made on first use."""
        from .client import ClientSocket

        if not namespace.startswith("/"):
            namespace = "/" + namespace
        socket = self.sockets.get(namespace)
        if socket is None:
            socket = self.sockets[namespace] = ClientSocket(self, namespace, auth=auth)
        elif auth is not None:
            socket.auth = auth  # used from its next CONNECT on
        return socket

    def _destroy(self, socket: ClientSocket) -> None:
        """A socket left; close the connection when no socket is active any more."""
        if not any(s.active for s in self.sockets.values()):
            self.close()

    # -- opening and closing ---------------------------------------------------------------

    def open(self) -> None:
        """Start connecting, unless already connected or connecting."""
        if self._task is not None and not self._task.done():
            return
        self._skip_reconnect = False
        self._task = asyncio.get_running_loop().create_task(self._run(), name="socketeer manager")
        self._task.add_done_callback(_log_failure)

    def close(self) -> Closing:
        """Close the connection, without reconnecting (JS ``manager._close()``).

        Acts at once; awaiting the result waits until the transports are torn down.
        """
        self._skip_reconnect = True
        self._reconnecting = False
        engine = self.engine
        task = self._task
        if engine is not None and self._ready == "open":
            engine.close()  # its "close" event closes the sockets with "forced close"
        elif task is not None and not task.done():
            task.cancel()  # waiting for a delay, or opening
        return Closing(self)

    async def wait_closed(self) -> None:
        """Wait until the connection loop has ended and the transports are torn down."""
        task = self._task
        if task is not None and not task.done():
            await asyncio.wait({task})

    async def _run(self) -> None:
        attempts = 0
        options = self.options
        http = self._http = new_http_client(
            headers=options.headers, ssl=options.ssl, connect_timeout=options.timeout
        )
        try:
            while True:
                if self._reconnecting:
                    if attempts >= options.reconnection_attempts:
                        self._reconnecting = False
                        error = ConnectionFailed(f"reconnection failed after {attempts} attempts")
                        self._fire("reconnect_failed")
                        self._give_up(error)
                        return
                    delay = backoff_delay(
                        attempts,
                        delay=options.reconnection_delay,
                        delay_max=options.reconnection_delay_max,
                        jitter=options.randomization_factor,
                    )
                    attempts += 1
                    await asyncio.sleep(delay)
                    self._fire("reconnect_attempt", attempts)
                    if self._skip_reconnect:
                        return
                engine = self._new_engine(http)
                try:
                    async with asyncio.timeout(options.timeout):
                        await engine.open()
                except (TransportError, TimeoutError) as exc:
                    engine.close()
                    self.engine = None
                    self._ready = "closed"
                    error = ConnectionFailed(str(exc) or "timeout")
                    error.__cause__ = exc
                    self._on_error(error)
                    if self._reconnecting:
                        self._fire("reconnect_error", error)
                    if not options.reconnection or self._skip_reconnect:
                        self._give_up(error)
                        return
                    self._reconnecting = True
                    continue
                if self._reconnecting:
                    self._reconnecting = False
                    self._fire("reconnect", attempts)
                attempts = 0
                await engine.closed_reason()  # the "close" handler has done the rest
                await engine.wait_finished()
                if not options.reconnection or self._skip_reconnect:
                    return
                self._reconnecting = True
        finally:
            self._reconnecting = False
            self._ready = "closed"
            current = self.engine
            if current is not None:
                current.close()
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.shield(current.wait_finished())
            self.engine = None
            self._http = None
            await http.aclose()

    def _new_engine(self, http: httpx.AsyncClient) -> EngineClient:
        options = self.options
        transports = options.engine_transports
        if options.remember_upgrade and self._prior_websocket and Transport.WEBSOCKET in transports:
            transports = (
                Transport.WEBSOCKET,
                *(t for t in transports if t is not Transport.WEBSOCKET),
            )
        engine = EngineClient(
            self.endpoint,
            http=http,
            headers=dict(options.headers),
            ssl=options.ssl,
            transports=transports,
            upgrade=options.upgrade,
            try_all_transports=options.try_all_transports,
            max_message_size=options.max_message_size,
            max_payload_packets=options.max_payload_packets,
            timeout=options.timeout,
            gate=self._gate,
        )
        self.engine = engine
        self._ready = "opening"
        engine.on("open", lambda handshake: self._on_open(engine))
        engine.on("message", lambda data: self._on_data(engine, data))
        engine.on("ping", lambda: self._fire("ping"))
        engine.on("upgrade", lambda transport: self._on_upgrade(transport))
        engine.on("upgrade_error", lambda description: self._fire("upgrade_error", description))
        engine.on("close", lambda reason, description: self._on_close(engine, reason))
        return engine

    def _give_up(self, error: ConnectionFailed) -> None:
        for socket in list(self.sockets.values()):
            socket._fail_waiters(error)

    # -- engine events ---------------------------------------------------------------------

    def _on_open(self, engine: EngineClient) -> None:
        self._ready = "open"
        self._decoder.reset()
        self._prior_websocket = engine.transport == Transport.WEBSOCKET.value
        self._fire("open")
        for socket in list(self.sockets.values()):
            if socket.active:
                socket._on_open()

    def _on_upgrade(self, transport: str) -> None:
        self._prior_websocket = True
        self._fire("upgrade", transport)

    def _on_data(self, engine: EngineClient, data: str | bytes) -> None:
        if engine is not self.engine or engine.closed:
            return  # a message of a payload whose connection is being closed
        try:
            packet = self._decoder.receive(data, _now())
        except RemoteProtocolError as exc:
            self._protocol_error(str(exc))
            return
        self._arm_attachment_timer()
        if packet is not None:
            socket = self.sockets.get(packet.namespace)
            if socket is not None and socket.active:
                socket._on_packet(packet)

    def _on_close(self, engine: EngineClient, reason: str) -> None:
        if engine is not self.engine:
            return
        if reason == CloseReason.TRANSPORT_ERROR.value:
            self._on_error(ConnectionFailed("transport error"))
        self._ready = "closed"
        self._decoder.reset()
        if self._attachment_timer is not None:
            self._attachment_timer.cancel()
            self._attachment_timer = None
        self._fire("close", reason)
        for socket in list(self.sockets.values()):
            socket._on_close(reason)

    def _on_error(self, error: Exception) -> None:
        self._fire("error", error)
        for socket in list(self.sockets.values()):
            if socket.active and not socket.connected:
                socket._on_connect_error(error, final=False)

    def _protocol_error(self, description: str) -> None:
        """The server broke the Socket.IO protocol: close with "parse error" (and reconnect)."""
        logger.debug("protocol error: %s", description)
        engine = self.engine
        if engine is not None:
            engine.close(CloseReason.PARSE_ERROR)

    def _arm_attachment_timer(self) -> None:
        if self._attachment_timer is not None:
            self._attachment_timer.cancel()
            self._attachment_timer = None
        deadline = self._decoder.deadline
        if deadline is not None:
            loop = asyncio.get_running_loop()
            self._attachment_timer = loop.call_at(deadline, self._on_attachment_timeout)

    def _on_attachment_timeout(self) -> None:
        self._attachment_timer = None
        try:
            self._decoder.check_timeout(_now())
        except RemoteProtocolError as exc:
            self._protocol_error(str(exc))
            return
        self._arm_attachment_timer()  # pragma: no cover - the timer fires at the deadline

    # -- sending ---------------------------------------------------------------------------

    def _send(self, messages: Sequence[str | bytes]) -> None:
        engine = self.engine
        if engine is not None:
            engine.send_many(messages)

    def _encode(self, packet: Packet) -> list[str | bytes]:
        return self.encoder.encode(packet)

    @property
    def writable(self) -> bool:
        """Whether a message sent now goes out at once (for volatile events)."""
        return self.engine is not None and self._ready == "open" and self.engine.writable

    def _alive(self) -> bool:
        """Whether the connection is open, applying an overdue heartbeat deadline first."""
        engine = self.engine
        return engine is not None and self._ready == "open" and engine.check_alive()

    # -- user handlers, bounded ------------------------------------------------------------

    def _fire(self, event: str, *args: Any) -> None:
        _fire(self, self, event, *args)

    def _spawn_handler(self, awaitable: Awaitable[Any], what: str) -> None:
        async def run() -> None:
            try:
                await awaitable
            except Exception:  # a user handler failed; the client goes on
                logger.exception("error in %r handler", what)

        task = asyncio.get_running_loop().create_task(run())
        self._handler_tasks.add(task)
        task.add_done_callback(self._handler_done)

    def _handler_done(self, task: asyncio.Task[Any]) -> None:
        self._handler_tasks.discard(task)
        self._handler_room.set()

    async def _gate(self) -> None:
        while len(self._handler_tasks) >= self.options.max_pending_handlers:
            self._handler_room.clear()
            await self._handler_room.wait()


class Closing:
    """What ``close()`` / ``disconnect()`` return: they act at once; awaiting this waits
    until the connection is torn down (nothing to wait for when it stays open)."""

    __slots__ = ("_manager",)

    def __init__(self, manager: Manager | None) -> None:
        self._manager = manager

    def __await__(self) -> Generator[Any, None, None]:
        if self._manager is not None:
            yield from self._manager.wait_closed().__await__()


def _fire(owner: Emitter, manager: Manager, event: str, *args: Any) -> None:
    """Call ``owner``'s handlers of ``event``; async ones run as bounded manager tasks."""
    for awaitable in owner._emit(event, *args):
        manager._spawn_handler(awaitable, event)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("the connection loop failed", exc_info=task.exception())


def _now() -> float:
    return asyncio.get_running_loop().time()


__all__ = ["ClientOptions", "Closing", "Manager", "backoff_delay"]
