"""``Client`` and ``ClientSocket``: the Socket.IO client on asyncio (socket.io-client 4.x).

A ``ClientSocket`` is one namespace connection (the JS client ``Socket``); a ``Client`` is
the socket of the URL's namespace together with its ``Manager`` (``client.io``), the one
Engine.IO connection that ``client.socket("/other")`` multiplexes further namespaces on.

Emitting follows the JS client (socket.io-client ``lib/socket.ts``):

- events emitted while the socket is not connected are buffered and sent in order once it
  connects; volatile events are dropped instead. The buffer is bounded
  (``max_buffered_events`` and ``max_buffered_bytes``): past it ``emit`` raises
  ``BufferFull``;
- an acknowledgement arrives by ``callback=`` or by ``await emit_with_ack(...)``; with a
  timeout (``timeout(seconds)`` or the ``ack_timeout`` option) a callback receives an
  ``AckTimeout`` instead, and ``emit_with_ack`` raises it. When the connection drops,
  ``emit_with_ack`` raises ``Disconnected`` and callbacks with a timeout receive it; an
  event still buffered (never sent) keeps waiting for the next connection;
- with ``retries`` (and ``ack_timeout``), events go through a queue: one in flight at a
  time, each resent until acknowledged, at most ``retries`` more times, and the queue is
  resent in order after a reconnection: at-least-once delivery, in order (``_addToQueue``
  / ``_drainQueue``). Callbacks then always receive the error when delivery fails;
- incoming events run their handlers; the first handler's return value (awaited for a
  coroutine) is the acknowledgement when the server asked for one (a tuple sends several
  arguments).

With connection-state recovery on the server, the client keeps its private session id and
the offset of the last event, sends both when it reconnects, and ``recovered`` tells
whether the server restored the session (missed events are delivered before ``connect``).
As with the JS client, each event then carries its offset as an extra last argument: give
such handlers a trailing ``*args``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from .._emitter import AnyHandler, CatchAll, Emitter, invoke
from ..exceptions import (
    AckTimeout,
    BufferFull,
    ConnectionRefusedByServer,
    Disconnected,
    LocalProtocolError,
)
from ..socketio.client import (
    AckReceived,
    ClientNamespace,
    Connected,
    ConnectRefused,
    DisconnectedByServer,
    EventReceived,
    NamespaceState,
    ProtocolViolation,
)
from ..socketio.codecs import Codec
from ..socketio.packets import RESERVED_EVENTS, Packet
from .manager import ClientOptions, Closing, Manager, _fire
from .transports import Endpoint, SSLOption

logger = logging.getLogger("socketeer.client")

AuthData: TypeAlias = dict[str, Any] | None
Auth: TypeAlias = (
    dict[str, Any] | Callable[[], Awaitable[dict[str, Any] | None] | dict[str, Any] | None] | None
)
"""The CONNECT payload: a dict, or a callable (sync or async) evaluated at each connection."""

AckCallback = Callable[..., Any]
ResultCallback = Callable[[list[Any]], None]
ErrorCallback = Callable[[Exception], None]

DISCONNECTED_MESSAGE = "socket has been disconnected"


@dataclass(slots=True)
class _Ack:
    on_result: ResultCallback
    on_error: ErrorCallback | None  # None: a callback that cannot take an error (JS)
    timer: asyncio.TimerHandle | None


@dataclass(slots=True)
class _Outgoing:
    """An encoded EVENT waiting in the send buffer."""

    packet: Packet
    messages: list[str | bytes]
    size: int


@dataclass(slots=True)
class _Queued:
    """An event in the retry queue (JS ``QueuedPacket``)."""

    event: str
    args: tuple[Any, ...]
    timeout: float | None
    on_result: ResultCallback | None
    on_error: ErrorCallback | None
    size: int
    tries: int = 0
    pending: bool = False


def check_event_name(event: str) -> None:
    """Refuse the names user code may not emit (JS ``RESERVED_EVENTS``)."""
    if not isinstance(event, str) or not event:
        raise LocalProtocolError(f"an event name must be a non-empty string, not {event!r}")
    if event in RESERVED_EVENTS:
        raise LocalProtocolError(f'"{event}" is a reserved event name')


class ClientSocket(CatchAll, Emitter):
    """A connection to one namespace, multiplexed on its manager's Engine.IO connection.

    Events: ``connect()``, ``connect_error(exception)`` (a ``ConnectionRefusedByServer``
    with the server's ``message`` and ``data``, or a ``ConnectionFailed``),
    ``disconnect(reason)`` with the JS client's reasons ("io server disconnect",
    "io client disconnect", "ping timeout", "transport close", "transport error",
    "parse error", "forced close"), and every event the server emits.

    Attributes:
        io: the manager (``client.io.on("reconnect", ...)``).
        nsp: the namespace.
        auth: the CONNECT payload: a dict, or a callable evaluated at each connection.
    """

    def __init__(self, io: Manager, nsp: str, *, auth: Auth = None) -> None:
        super().__init__()
        self.io = io
        self.nsp = nsp
        self.auth = auth
        options = io.options
        self._retries = options.retries
        self._ack_timeout = options.ack_timeout
        self._core = ClientNamespace(nsp, max_receive_buffer=options.max_receive_buffer)
        self._active = False
        self._send_buffer: deque[_Outgoing] = deque()
        self._queue: deque[_Queued] = deque()
        self._buffered_bytes = 0
        self._acks: dict[int, _Ack] = {}
        self._any: list[AnyHandler] = []
        self._any_outgoing: list[AnyHandler] = []
        self._waiters: list[asyncio.Future[None]] = []

    def __repr__(self) -> str:
        state = "connected" if self.connected else "disconnected"
        return f"<{type(self).__name__} {self.nsp} {self.id or '-'} {state}>"

    # -- state -----------------------------------------------------------------------------

    @property
    def id(self) -> str | None:
        """The socket id the server gave, while connected."""
        return self._core.sid

    @property
    def connected(self) -> bool:
        """Whether the namespace connection is established."""
        return self._core.connected

    @property
    def disconnected(self) -> bool:
        """``not connected``."""
        return not self._core.connected

    @property
    def recovered(self) -> bool:
        """Whether the last connection recovered the previous session (server recovery)."""
        return self._core.recovered

    @property
    def active(self) -> bool:
        """Whether the socket is to be (re)connected: ``connect()`` called, and neither
        ``disconnect()`` nor a refusal / server disconnect since."""
        return self._active

    @property
    def transport(self) -> str | None:
        """The current transport of the connection ("polling" / "websocket"), if any."""
        return self.io.transport

    # -- connecting ------------------------------------------------------------------------

    async def connect(self, *, wait: bool = True) -> None:
        """Connect to the namespace (opening the manager's connection if needed).

        With ``wait`` (the default) return once connected, or raise
        ``ConnectionRefusedByServer`` (the server refused the namespace connection) or
        ``ConnectionFailed`` (the connection failed and reconnection is off, or gave up).
        While reconnection goes on this waits: bound it with ``asyncio.timeout`` (a
        cancelled wait disconnects the socket).
        """
        if self.connected:
            return
        waiter: asyncio.Future[None] | None = None
        if wait:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
        self._active = True
        self.io.open()
        if self.io.ready_state == "open" and self._core.state is NamespaceState.DISCONNECTED:
            self._on_open()
        if waiter is None:
            return
        try:
            await waiter
        except asyncio.CancelledError:
            self.disconnect()
            raise

    def _auto_connect(self) -> None:
        """JS ``autoConnect``: join the namespace now if the connection is open, else when
        it opens (opening it when an event loop is running)."""
        if self._active:
            return
        self._active = True
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop yet: the manager connects active sockets when it opens
        self.io.open()
        if self.io.ready_state == "open" and self._core.state is NamespaceState.DISCONNECTED:
            self._on_open()

    def disconnect(self) -> Closing:
        """Leave the namespace ("io client disconnect"); with no other active socket the
        manager closes the connection. Acts at once; await the result to wait until the
        connection is torn down."""
        packet = self._core.disconnect()
        if packet is not None:
            self.io._send(self.io._encode(packet))
        self._fail_waiters(Disconnected("io client disconnect"))
        self._active = False
        self.io._destroy(self)
        if packet is not None:
            self._closed("io client disconnect")
        if any(socket.active for socket in self.io.sockets.values()):
            return Closing(None)
        return Closing(self.io)

    def close(self) -> Awaitable[None]:
        """Like ``disconnect``."""
        return self.disconnect()

    # -- emitting --------------------------------------------------------------------------

    def emit(self, event: str, *args: Any, callback: AckCallback | None = None) -> None:
        """Emit ``event``; ``callback(*ack_args)`` runs when the server acknowledges.

        Raises:
            LocalProtocolError: a reserved or invalid event name, or data that cannot be
                encoded.
            BufferFull: the socket cannot send now and its buffer is full.
        """
        self._emit_user(event, args, callback, None, volatile=False)

    def send(self, *args: Any, callback: AckCallback | None = None) -> None:
        """Emit a ``message`` event."""
        self.emit("message", *args, callback=callback)

    async def emit_with_ack(self, event: str, *args: Any) -> Any:
        """Emit and return the acknowledgement: None, the one argument, or a tuple.

        Waits at most ``ack_timeout`` (no limit when None; ``timeout(s)`` for another).

        Raises:
            AckTimeout: no acknowledgement in time.
            Disconnected: the connection dropped after the event was sent.
        """
        return await _SocketEmitter(self).emit_with_ack(event, *args)

    def timeout(self, seconds: float) -> _SocketEmitter:
        """Emit with an acknowledgement timeout: ``await sock.timeout(5).emit_with_ack(...)``."""
        return _SocketEmitter(self, timeout=seconds)

    @property
    def volatile(self) -> _SocketEmitter:
        """Emit only if the event can be sent at once (never buffered)."""
        return _SocketEmitter(self, volatile=True)

    def compress(self, compress: bool) -> _SocketEmitter:
        """Accepted for API parity; compression is negotiated by the WebSocket layer."""
        return _SocketEmitter(self)

    def _emit_user(
        self,
        event: str,
        args: Sequence[Any],
        callback: AckCallback | None,
        timeout: float | None,
        *,
        volatile: bool,
        future: asyncio.Future[Any] | None = None,
    ) -> None:
        on_result: ResultCallback | None = None
        on_error: ErrorCallback | None = None
        if future is not None:
            on_result, on_error = _future_callbacks(future)
        elif callback is not None:
            user = callback
            on_result = lambda answer: _call(self.io, user, *answer)  # noqa: E731
            if timeout is not None or self._ack_timeout is not None or self._retries:
                on_error = lambda error: _call(self.io, user, error)  # noqa: E731
        if self._retries and not volatile:
            self._add_to_queue(event, tuple(args), timeout, on_result, on_error)
        else:
            self._emit_packet(event, args, on_result, on_error, timeout, volatile=volatile)

    def _emit_packet(
        self,
        event: str,
        args: Sequence[Any],
        on_result: ResultCallback | None,
        on_error: ErrorCallback | None,
        timeout: float | None,
        *,
        volatile: bool,
    ) -> None:
        check_event_name(event)
        core = self._core
        ack_id = core.next_ack_id() if on_result is not None else None
        packet = core.event(event, args, ack_id)
        messages = self.io._encode(packet)
        io = self.io
        connected = self.connected and io._alive()
        # JS: a volatile packet is discarded when the transport is not writable (and here
        # when the socket is not connected: volatile events are never buffered). Its ack
        # is registered all the same, so that a timeout still reports it.
        discard = volatile and not (connected and io.writable)
        size = _size(messages)
        if not connected and not discard:
            self._check_room(size)
        if on_result is not None:
            assert ack_id is not None
            self._register_ack(ack_id, on_result, on_error, timeout)
        if discard:
            return
        if connected:
            self._notify_outgoing(packet)
            io._send(messages)
        else:
            self._send_buffer.append(_Outgoing(packet, messages, size))
            self._buffered_bytes += size

    def _check_room(self, size: int) -> None:
        options = self.io.options
        count = len(self._send_buffer) + len(self._queue)
        if count >= options.max_buffered_events:
            raise BufferFull(f"{count} events are already buffered (max_buffered_events)")
        if self._buffered_bytes + size > options.max_buffered_bytes:
            raise BufferFull(
                f"{self._buffered_bytes} bytes are already buffered (max_buffered_bytes)"
            )

    def _register_ack(
        self,
        ack_id: int,
        on_result: ResultCallback,
        on_error: ErrorCallback | None,
        timeout: float | None,
    ) -> None:
        # JS _registerAckCallback: with a timeout the callback can take an error.
        if timeout is None:
            timeout = self._ack_timeout
        if timeout is None:
            self._acks[ack_id] = _Ack(on_result, on_error, None)
            return

        def expire() -> None:
            ack = self._acks.pop(ack_id, None)
            if ack is None:
                return
            self._drop_buffered(ack_id)
            if ack.on_error is not None:
                ack.on_error(AckTimeout("operation has timed out"))

        timer = asyncio.get_running_loop().call_later(timeout, expire)
        self._acks[ack_id] = _Ack(on_result, on_error, timer)

    def _drop_buffered(self, ack_id: int) -> None:
        for outgoing in list(self._send_buffer):
            if outgoing.packet.id == ack_id:
                self._send_buffer.remove(outgoing)
                self._buffered_bytes -= outgoing.size

    # -- the retry queue (JS _addToQueue / _drainQueue) ------------------------------------

    def _add_to_queue(
        self,
        event: str,
        args: tuple[Any, ...],
        timeout: float | None,
        on_result: ResultCallback | None,
        on_error: ErrorCallback | None,
    ) -> None:
        check_event_name(event)
        size = _size(self.io._encode(self._core.event(event, args)))  # refuse bad data now
        self._check_room(size)
        self._queue.append(_Queued(event, args, timeout, on_result, on_error, size))
        self._buffered_bytes += size
        self._drain_queue()

    def _drain_queue(self, *, force: bool = False) -> None:
        if not self.connected or not self._queue:
            return
        queued = self._queue[0]
        if queued.pending and not force:
            return
        queued.pending = True
        queued.tries += 1
        timeout = queued.timeout if queued.timeout is not None else self._ack_timeout

        def on_result(answer: list[Any]) -> None:
            self._queue_done(queued, None, answer)

        def on_error(error: Exception) -> None:
            self._queue_done(queued, error, [])

        # JS: the queue's callback takes an error only when a timeout applies; without
        # one, a dropped connection leaves the packet pending and the next connection
        # resends it.
        self._emit_packet(
            queued.event,
            queued.args,
            on_result,
            on_error if timeout is not None else None,
            queued.timeout,
            volatile=False,
        )

    def _queue_done(self, queued: _Queued, error: Exception | None, answer: list[Any]) -> None:
        if not self._queue or self._queue[0] is not queued:
            return  # already settled
        if error is not None:
            if queued.tries > self._retries:
                self._queue.popleft()
                self._buffered_bytes -= queued.size
                if queued.on_error is not None:
                    queued.on_error(error)
        else:
            self._queue.popleft()
            self._buffered_bytes -= queued.size
            if queued.on_result is not None:
                queued.on_result(answer)
        queued.pending = False
        self._drain_queue()

    # -- listeners -------------------------------------------------------------------------

    def _notify_outgoing(self, packet: Packet) -> None:
        data = packet.data
        if self._any_outgoing and isinstance(data, list):
            for listener in tuple(self._any_outgoing):
                _call(self.io, listener, *data)

    # -- driven by the manager -------------------------------------------------------------

    def _on_open(self) -> None:
        """The manager's connection is open: send CONNECT (auth evaluated now)."""
        auth = self.auth
        if callable(auth):
            self.io._spawn_handler(self._connect_with(auth), "auth")
        else:
            self._send_connect(auth)

    async def _connect_with(self, auth: Callable[[], Any]) -> None:
        engine = self.io.engine
        try:
            data = auth()
            if inspect.isawaitable(data):
                data = await data
            if data is not None and not isinstance(data, dict):
                raise TypeError(f"auth must give a dict or None, not {type(data).__name__}")
        except Exception as exc:  # reported as connect_error
            logger.exception("the auth callable failed")
            self._on_connect_error(exc)
            return
        if self._active and self.io.engine is engine and self.io.ready_state == "open":
            self._send_connect(data)

    def _send_connect(self, auth: AuthData) -> None:
        self.io._send(self.io._encode(self._core.connect(auth)))

    def _on_packet(self, packet: Packet) -> None:
        was_connected = self._core.connected
        for event in self._core.receive(packet):
            match event:
                case EventReceived():
                    self._on_event(event)
                case AckReceived(ack_id, args):
                    ack = self._acks.pop(ack_id, None)
                    if ack is not None:
                        if ack.timer is not None:
                            ack.timer.cancel()
                        ack.on_result(args)
                case Connected():
                    self._on_connect()
                case ConnectRefused(message, data):
                    self._active = False
                    self.io._destroy(self)
                    self._on_connect_error(ConnectionRefusedByServer(message, data))
                case DisconnectedByServer():
                    self._active = False
                    self.io._destroy(self)
                    if was_connected:
                        self._closed("io server disconnect")
                case ProtocolViolation(description):
                    self.io._protocol_error(description)
                    return

    def _on_connect(self) -> None:
        buffered, self._send_buffer = self._send_buffer, deque()
        for outgoing in buffered:
            self._buffered_bytes -= outgoing.size
            self._notify_outgoing(outgoing.packet)
            self.io._send(outgoing.messages)
        self._drain_queue(force=True)
        _fire(self, self.io, "connect")
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _on_connect_error(self, error: Exception, *, final: bool = True) -> None:
        """Report ``connect_error``; ``final``: ``connect()`` gives up too (a refusal;
        for a failed attempt the manager decides, as reconnection may follow)."""
        _fire(self, self.io, "connect_error", error)
        if final:
            self._fail_waiters(error)

    def _fail_waiters(self, error: Exception) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_exception(error)

    def _on_close(self, reason: str) -> None:
        """The manager's connection closed."""
        was_connected = self._core.connected
        self._core.transport_closed()
        if was_connected:
            self._closed(reason)

    def _closed(self, reason: str) -> None:
        _fire(self, self.io, "disconnect", reason)
        # JS _clearAcks: acknowledgements of events sent on the lost connection will never
        # come; those that can take an error get it. Buffered events keep theirs.
        buffered = {outgoing.packet.id for outgoing in self._send_buffer}
        for ack_id in [i for i in self._acks if i not in buffered]:
            ack = self._acks.pop(ack_id)
            if ack.timer is not None:
                ack.timer.cancel()
            if ack.on_error is not None:
                ack.on_error(Disconnected(reason))

    def _on_event(self, received: EventReceived) -> None:
        event, args, ack_id = received.event, received.args, received.ack_id
        for listener in tuple(self._any):
            _call(self.io, listener, event, *args)
        handlers = self._handlers.get(event)
        if not handlers:
            if ack_id is not None:
                self._send_ack(ack_id, [])  # nobody will answer; do not leave it waiting
            return
        first = True
        for handler in tuple(handlers):
            try:
                result = handler(*args)
            except Exception:  # a user handler failed; the connection goes on
                logger.exception("error in %r handler", event)
                result = None
            if inspect.isawaitable(result):
                if first and ack_id is not None:
                    result = self._ack_when_done(result, ack_id)
                self.io._spawn_handler(result, event)
            elif first and ack_id is not None:
                self._send_ack(ack_id, _ack_args(result))
            first = False

    async def _ack_when_done(self, awaitable: Awaitable[Any], ack_id: int) -> None:
        try:
            result = await awaitable
        except Exception:  # a user handler failed; acknowledge with nothing
            logger.exception("error in the handler of ack %s", ack_id)
            result = None
        self._send_ack(ack_id, _ack_args(result))

    def _send_ack(self, ack_id: int, args: list[Any]) -> None:
        if self._core.connected:
            self.io._send(self.io._encode(self._core.ack(ack_id, args)))


class _SocketEmitter:
    """``socket.timeout(s)`` / ``socket.volatile``: emit with flags, without mutating."""

    __slots__ = ("_socket", "_timeout", "_volatile")

    def __init__(
        self, socket: ClientSocket, *, timeout: float | None = None, volatile: bool = False
    ) -> None:
        self._socket = socket
        self._timeout = timeout
        self._volatile = volatile

    def timeout(self, seconds: float) -> _SocketEmitter:
        return _SocketEmitter(self._socket, timeout=seconds, volatile=self._volatile)

    @property
    def volatile(self) -> _SocketEmitter:
        return _SocketEmitter(self._socket, timeout=self._timeout, volatile=True)

    def compress(self, compress: bool) -> _SocketEmitter:
        return self

    def emit(self, event: str, *args: Any, callback: AckCallback | None = None) -> None:
        """Emit; with a timeout, ``callback`` receives an ``AckTimeout`` if none comes."""
        self._socket._emit_user(event, args, callback, self._timeout, volatile=self._volatile)

    async def emit_with_ack(self, event: str, *args: Any) -> Any:
        """Emit and return the acknowledgement; ``AckTimeout`` after the timeout."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._socket._emit_user(
            event, args, None, self._timeout, volatile=self._volatile, future=future
        )
        return await future


class Client(ClientSocket):
    """A Socket.IO client: the socket of the URL's namespace, and its manager (``io``).

    ``Client("http://localhost:3000/chat")`` connects to the ``/chat`` namespace (``/``
    without a path); the query string of the URL is sent too.

    Args:
        url: the server URL (``http``, ``https``, ``ws`` or ``wss``).
        auth: the CONNECT payload: a dict, or a callable (sync or async) returning one,
            evaluated again at every (re)connection.
        The other arguments are the ``ClientOptions`` fields (see there): path, transports,
        upgrade, remember_upgrade, try_all_transports, headers, query, reconnection,
        reconnection_attempts, reconnection_delay, reconnection_delay_max,
        randomization_factor, timeout, retries, ack_timeout, codec, ssl and the limits.

    ``async with Client(url) as client:`` connects, and closes everything at the end.
    """

    def __init__(
        self,
        url: str,
        *,
        auth: Auth = None,
        path: str = "/socket.io/",
        transports: Sequence[str] = ("polling", "websocket"),
        upgrade: bool = True,
        remember_upgrade: bool = False,
        try_all_transports: bool = False,
        headers: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
        reconnection: bool = True,
        reconnection_attempts: float = float("inf"),
        reconnection_delay: float = 1.0,
        reconnection_delay_max: float = 5.0,
        randomization_factor: float = 0.5,
        timeout: float = 20.0,
        retries: int = 0,
        ack_timeout: float | None = None,
        codec: Codec | None = None,
        ssl: SSLOption = None,
        max_message_size: int = 10_000_000,
        max_payload_packets: int = 10_000,
        max_buffered_events: int = 1_000,
        max_buffered_bytes: int = 10_000_000,
        max_receive_buffer: int = 10_000,
        max_pending_handlers: int = 1_000,
    ) -> None:
        base, namespace, url_query = _split_url(url)
        options = ClientOptions(
            path=path,
            transports=tuple(transports),
            upgrade=upgrade,
            remember_upgrade=remember_upgrade,
            try_all_transports=try_all_transports,
            headers=headers or {},
            query={**url_query, **(query or {})},
            reconnection=reconnection,
            reconnection_attempts=reconnection_attempts,
            reconnection_delay=reconnection_delay,
            reconnection_delay_max=reconnection_delay_max,
            randomization_factor=randomization_factor,
            timeout=timeout,
            retries=retries,
            ack_timeout=ack_timeout,
            codec=codec,
            ssl=ssl,
            max_message_size=max_message_size,
            max_payload_packets=max_payload_packets,
            max_buffered_events=max_buffered_events,
            max_buffered_bytes=max_buffered_bytes,
            max_receive_buffer=max_receive_buffer,
            max_pending_handlers=max_pending_handlers,
        )
        manager = Manager(base, options)
        super().__init__(manager, namespace, auth=auth)
        manager.sockets[namespace] = self

    def socket(self, namespace: str, *, auth: Auth = None, force_new: bool = False) -> ClientSocket:
        """A socket for another namespace on the same connection (``force_new``: on a
        connection of its own, with the same options).

        As with the JS client's ``autoConnect``, the socket joins its namespace by itself:
        at once when the connection is open, else when it opens (``await client.connect()``
        opens it; inside a running event loop it is opened right away).
        ``await sock.connect()`` waits until the socket is connected.
        """
        if force_new:
            socket = Manager(self.io.url, self.io.options).socket(namespace, auth=auth)
        else:
            socket = self.io.socket(namespace, auth=auth)
        socket._auto_connect()
        return socket

    async def close(self) -> None:
        """Disconnect every socket of the manager and close the connection."""
        for socket in list(self.io.sockets.values()):
            socket.disconnect()
        await self.io.close()

    async def wait(self) -> None:
        """Wait until the connection is closed for good: every socket disconnected, or
        reconnection off or given up."""
        await self.io.wait_closed()

    async def __aenter__(self) -> Client:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


def _split_url(url: str) -> tuple[str, str, dict[str, str]]:
    """``http://host/chat?x=1`` -> (``http://host``, ``/chat``, ``{"x": "1"}``)."""
    from urllib.parse import parse_qsl, urlsplit

    parts = urlsplit(url)
    Endpoint.parse(url, "/", None)  # refuse what is not an http(s) / ws(s) URL
    namespace = parts.path.rstrip("/") or "/"
    base = f"{parts.scheme}://{parts.netloc}"
    return base, namespace, dict(parse_qsl(parts.query))


def _future_callbacks(future: asyncio.Future[Any]) -> tuple[ResultCallback, ErrorCallback]:
    def on_result(answer: list[Any]) -> None:
        if not future.done():
            future.set_result(_ack_result(answer))

    def on_error(error: Exception) -> None:
        if not future.done():
            future.set_exception(error)

    return on_result, on_error


def _call(io: Manager, handler: Callable[..., Any], *args: Any) -> None:
    """Call a user callback; run it as a bounded task when it is a coroutine function."""
    what = getattr(handler, "__name__", "callback")
    awaitable = invoke(handler, args, what)
    if awaitable is not None:
        io._spawn_handler(awaitable, what)


def _size(messages: list[str | bytes]) -> int:
    return sum(len(m) for m in messages)


def _ack_args(result: Any) -> list[Any]:
    if result is None:
        return []
    if isinstance(result, tuple):
        return list(result)
    return [result]


def _ack_result(args: Sequence[Any]) -> Any:
    if not args:
        return None
    if len(args) == 1:
        return args[0]
    return tuple(args)


__all__ = ["Auth", "Client", "ClientSocket", "check_event_name"]
