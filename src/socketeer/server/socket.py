"""``Socket``: one client connected to one namespace (the JS server ``Socket``)."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeGuard

from .._emitter import AnyHandler, CatchAll, Emitter, Handler, call_in_background, spawn
from .._types import Room, SocketId
from ..adapters.base import BroadcastFlags, BroadcastOptions
from ..exceptions import AckTimeout, Disconnected, LocalProtocolError
from ..socketio.packets import RESERVED_EVENTS, Packet, PacketType
from ._util import DONE, Done, ack_args, ack_result
from .reasons import DisconnectReason

if TYPE_CHECKING:
    from .broadcast import BroadcastOperator
    from .connection import Connection
    from .engine import EngineSocket
    from .namespace import Namespace

logger = logging.getLogger("socketeer.server")

_PLAIN = BroadcastFlags()
_VOLATILE = BroadcastFlags(volatile=True)
_RECOVERABLE = frozenset(
    {
        DisconnectReason.TRANSPORT_ERROR,
        DisconnectReason.TRANSPORT_CLOSE,
        DisconnectReason.FORCED_CLOSE,
        DisconnectReason.PING_TIMEOUT,
        DisconnectReason.SERVER_SHUTTING_DOWN,
        DisconnectReason.FORCED_SERVER_CLOSE,
    }
)
PacketMiddleware = Callable[[str, list[Any]], Awaitable[None] | None]
AckCallback = Callable[..., Any]


def check_event_name(event: str) -> None:
    """Refuse the names user code may not emit (JS ``RESERVED_EVENTS``)."""
    if not isinstance(event, str) or not event:
        raise LocalProtocolError(f"an event name must be a non-empty string, not {event!r}")
    if event in RESERVED_EVENTS:
        raise LocalProtocolError(f'"{event}" is a reserved event name')


class Socket(CatchAll, Emitter):
    """A client connected to a namespace.

    Attributes:
        id: the socket id (not the Engine.IO session id).
        nsp: the namespace.
        handshake: the connection details (headers, query, auth, address, time, issued,
            url, secure, xdomain).
        data: free for the application; reported by ``fetch_sockets``.
        connected: whether the socket is connected.
        recovered: whether the connection state was recovered on this connection.

    Events: any event name the client emits, plus ``disconnecting(reason)``,
    ``disconnect(reason)`` and ``error(exception)`` (a per-packet middleware refused).
    """

    __slots__ = (
        "_ack_futures",
        "_acks",
        "_any",
        "_any_outgoing",
        "_middlewares",
        "client",
        "connected",
        "data",
        "handshake",
        "id",
        "nsp",
        "pid",
        "position",
        "recovered",
    )

    def __init__(
        self,
        nsp: Namespace,
        client: Connection,
        id: SocketId,
        auth: dict[str, Any],
    ) -> None:
        super().__init__()
        self.nsp = nsp
        self.client = client
        self.id = id
        self.data: Any = None
        self.connected = False
        self.recovered = False
        self.pid: str | None = None  # the private session id, with recovery on
        self.position = 0  # the recovery packet position when the socket connected
        self.handshake = client.handshake(auth)
        self._acks: dict[int, Callable[[list[Any]], None]] = {}
        # emit_with_ack calls without a timeout: failed with Disconnected at disconnect
        # instead of waiting forever (acks with a timeout keep running, as in JS).
        self._ack_futures: dict[int, asyncio.Future[list[Any]]] = {}
        self._any: list[AnyHandler] = []
        self._any_outgoing: list[AnyHandler] = []
        self._middlewares: list[PacketMiddleware] = []

    def __repr__(self) -> str:
        return f"<Socket {self.id} {self.nsp.name}>"

    @property
    def conn(self) -> EngineSocket:
        """The Engine.IO connection under this socket (``transport``, events)."""
        return self.client.conn

    @property
    def rooms(self) -> frozenset[Room]:
        """The rooms this socket is in, its own id included."""
        return self.nsp.adapter.socket_rooms(self.id)

    # -- emitting --------------------------------------------------------------------------

    def emit(self, event: str, *args: Any, callback: AckCallback | None = None) -> Done:
        """Send an event to this client; ``callback(*ack_args)`` runs when it acknowledges."""
        return self._emit_packet(event, args, callback, None, volatile=False)

    def send(self, *args: Any, callback: AckCallback | None = None) -> Done:
        """Emit a ``message`` event."""
        return self.emit("message", *args, callback=callback)

    async def emit_with_ack(self, event: str, *args: Any) -> Any:
        """Send an event and return the client's acknowledgement.

        Returns None, the single argument, or a tuple when the client answered with several.
        Waits at most the server's ``ack_timeout`` (no limit when None); use
        ``socket.timeout(seconds).emit_with_ack(...)`` for another limit. Raises
        ``AckTimeout`` when the time is up.
        """
        return await _SocketEmitter(self).emit_with_ack(event, *args)

    def timeout(self, seconds: float) -> _SocketEmitter:
        """Emit with an acknowledgement timeout: ``await socket.timeout(5).emit_with_ack(...)``."""
        return _SocketEmitter(self, timeout=seconds)

    @property
    def volatile(self) -> _SocketEmitter:
        """Emit without buffering: the event is dropped if the transport is not writable."""
        return _SocketEmitter(self, volatile=True)

    def compress(self, compress: bool) -> _SocketEmitter:
        """Accepted for API parity; compression is negotiated by the WebSocket layer."""
        return _SocketEmitter(self)

    def _emit_packet(
        self,
        event: str,
        args: Sequence[Any],
        callback: AckCallback | None,
        timeout: float | None,
        *,
        volatile: bool,
        future: asyncio.Future[list[Any]] | None = None,
    ) -> Done:
        check_event_name(event)
        if not self.connected:
            if future is not None and not future.done():
                future.set_exception(LocalProtocolError("the socket is not connected"))
            return DONE
        if volatile and not self.client.conn.writable:
            return DONE
        ack_id: int | None = None
        if callback is not None:
            ack_id = self._register_ack(callback, timeout, future)
        packet = Packet(PacketType.EVENT, self.nsp.name, [event, *args], ack_id)
        if ack_id is None and self.pid is not None:
            # Recovery on: store the packet with an offset, as the JS server does.
            options = BroadcastOptions(
                rooms=frozenset((self.id,)), flags=_VOLATILE if volatile else _PLAIN
            )
            self.nsp.adapter.broadcast(packet, options)
        else:
            self._notify_outgoing(packet)
            self.client.write(self.nsp.encode(packet))
        return DONE

    def _notify_outgoing(self, packet: Packet) -> None:
        """Call the outgoing catch-all listeners with an EVENT about to be sent."""
        data = packet.data
        if self._any_outgoing and isinstance(data, list) and data:
            for listener in tuple(self._any_outgoing):
                call_in_background(listener, data[0], *data[1:])

    def _register_ack(
        self,
        callback: AckCallback,
        timeout: float | None,
        future: asyncio.Future[list[Any]] | None = None,
    ) -> int:
        # One counter per namespace for socket and broadcast acks alike, as the JS server
        # does (nsp._ids), so the two kinds never share an id on one socket.
        ack_id = self.nsp._next_ack_id()
        timer: asyncio.TimerHandle | None = None

        def on_ack(args: list[Any]) -> None:
            if timer is not None:
                timer.cancel()
            self._ack_futures.pop(ack_id, None)
            call_in_background(callback, *args)

        self._acks[ack_id] = on_ack
        if timeout is None:
            if future is not None:
                self._ack_futures[ack_id] = future
        else:

            def expire() -> None:
                if self._acks.pop(ack_id, None) is None:
                    return
                error = AckTimeout("operation has timed out")
                if future is not None:
                    if not future.done():
                        future.set_exception(error)
                else:
                    call_in_background(callback, error)

            timer = asyncio.get_running_loop().call_later(timeout, expire)
        return ack_id

    # -- rooms -----------------------------------------------------------------------------

    def join(self, rooms: Room | Iterable[Room]) -> Done:
        """Join one room or several. Works at once; awaiting the result is optional."""
        self.nsp.adapter.add_all(self.id, [rooms] if isinstance(rooms, str) else rooms)
        return DONE

    def leave(self, rooms: Room | Iterable[Room]) -> Done:
        """Leave one room or several. Works at once; awaiting the result is optional."""
        for room in [rooms] if isinstance(rooms, str) else rooms:
            self.nsp.adapter.delete(self.id, room)
        return DONE

    # -- broadcasting from this socket -----------------------------------------------------

    @property
    def broadcast(self) -> BroadcastOperator:
        """Everyone in the namespace but this socket."""
        return self.nsp._operator().except_(self.id)

    def to(self, room: Room | Iterable[Room]) -> BroadcastOperator:
        """Everyone in ``room`` but this socket."""
        return self.broadcast.to(room)

    def in_(self, room: Room | Iterable[Room]) -> BroadcastOperator:
        """Alias of ``to``."""
        return self.to(room)

    def except_(self, room: Room | Iterable[Room]) -> BroadcastOperator:
        """Everyone but this socket and the sockets in ``room``."""
        return self.broadcast.except_(room)

    @property
    def local(self) -> BroadcastOperator:
        """Everyone on this node but this socket."""
        return self.broadcast.local

    # -- listeners -------------------------------------------------------------------------

    def use(self, middleware: PacketMiddleware) -> PacketMiddleware:
        """Run ``middleware(event, args)`` on every incoming event; raising refuses it (the
        socket then emits ``error`` with the exception)."""
        self._middlewares.append(middleware)
        return middleware

    # -- disconnecting ---------------------------------------------------------------------

    def disconnect(self, close: bool = False) -> Done:
        """Disconnect from this namespace; ``close=True`` closes the whole connection."""
        if not self.connected:
            return DONE
        if close:
            self.client.disconnect_all()
        else:
            self.client.write(self.nsp.encode(Packet(PacketType.DISCONNECT, self.nsp.name)))
            self._on_close(DisconnectReason.SERVER_NAMESPACE_DISCONNECT)
        return DONE

    # -- incoming (called by the connection) -----------------------------------------------

    def _on_connect(self) -> None:
        self.connected = True
        self.join(self.id)
        data: dict[str, Any] = {"sid": self.id}
        if self.pid is not None:
            data["pid"] = self.pid
            self.position = self.nsp.adapter.recovery_position()
        self.client.write(self.nsp.encode(Packet(PacketType.CONNECT, self.nsp.name, data)))

    def _on_packet(self, packet: Packet) -> None:
        match packet.type:
            case PacketType.EVENT:
                self._on_event(packet)
            case PacketType.ACK:
                on_ack = self._acks.pop(packet.id, None) if packet.id is not None else None
                if on_ack is not None:
                    on_ack(packet.data if isinstance(packet.data, list) else [])
            case PacketType.DISCONNECT:
                self._on_close(DisconnectReason.CLIENT_NAMESPACE_DISCONNECT)
            case _:  # a client may not send CONNECT_ERROR; the connection filtered CONNECT
                self.client.fail(DisconnectReason.PARSE_ERROR)

    def _on_event(self, packet: Packet) -> None:
        assert isinstance(packet.data, list)
        event = packet.data[0]
        assert isinstance(event, str)  # the decoder checked it
        args = list(packet.data[1:])
        if event in RESERVED_EVENTS:
            # socket.io-parser refuses reserved names from the peer: an invalid packet.
            self.client.fail(DisconnectReason.PARSE_ERROR)
            return
        if self._middlewares:
            spawn(self._run_middlewares(event, args, packet.id), event)
        else:
            self._dispatch(event, args, packet.id)

    async def _run_middlewares(self, event: str, args: list[Any], ack_id: int | None) -> None:
        for middleware in tuple(self._middlewares):
            try:
                result = middleware(event, args)
                if _awaitable(result):
                    await result
            except Exception as exc:  # noqa: BLE001 - raising is how a middleware refuses
                self._emit_background("error", exc)
                return
        if self.connected:
            self._dispatch(event, args, ack_id)

    def _dispatch(self, event: str, args: list[Any], ack_id: int | None) -> None:
        for listener in tuple(self._any):
            call_in_background(listener, event, *args)
        handlers = self._handlers.get(event)
        if not handlers:
            if ack_id is not None:
                self._send_ack(ack_id, [])  # nobody will answer; do not leave the client waiting
            return
        first = True
        for handler in tuple(handlers):
            try:
                result = handler(*args)
            except Exception:  # a user handler failed; the connection goes on
                logger.exception("error in %r handler", event)
                result = None
            if first and ack_id is not None:
                if _awaitable(result):
                    spawn(self._ack_when_done(result, ack_id), event)
                else:
                    self._send_ack(ack_id, ack_args(result))
            elif _awaitable(result):
                spawn(result, event)
            first = False

    async def _ack_when_done(self, awaitable: Awaitable[Any], ack_id: int) -> None:
        try:
            result = await awaitable
        except Exception:  # a user handler failed; acknowledge with nothing
            logger.exception("error in handler of ack %s", ack_id)
            result = None
        self._send_ack(ack_id, ack_args(result))

    def _send_ack(self, ack_id: int, args: list[Any]) -> None:
        if self.connected:
            packet = Packet(PacketType.ACK, self.nsp.name, args, ack_id)
            self.client.write(self.nsp.encode(packet))

    def _on_close(self, reason: DisconnectReason) -> None:
        """Leave everything behind: rooms (after ``disconnecting``), acks, the namespace."""
        if not self.connected:
            return
        self._emit_background("disconnecting", reason.value)
        self.connected = False
        adapter = self.nsp.adapter
        if self.pid is not None and reason in _RECOVERABLE:
            spawn(
                adapter.persist_session(self.id, self.pid, self.rooms, self.data, self.position),
                "persist_session",
            )
        adapter.delete_all(self.id)
        self.nsp._remove(self)
        self.client.remove(self)
        for ack_id, future in self._ack_futures.items():
            self._acks.pop(ack_id, None)
            if not future.done():
                future.set_exception(Disconnected(reason.value))
        self._ack_futures.clear()
        self._emit_background("disconnect", reason.value)


class _SocketEmitter:
    """``socket.timeout(s)`` / ``socket.volatile``: emit with flags, without mutating."""

    __slots__ = ("_socket", "_timeout", "_volatile")

    def __init__(
        self, socket: Socket, *, timeout: float | None = None, volatile: bool = False
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

    def emit(self, event: str, *args: Any, callback: AckCallback | None = None) -> Done:
        """Emit; with a timeout, ``callback`` receives an ``AckTimeout`` if none comes."""
        return self._socket._emit_packet(
            event, args, callback, self._timeout, volatile=self._volatile
        )

    async def emit_with_ack(self, event: str, *args: Any) -> Any:
        """Emit and return the acknowledgement; ``AckTimeout`` after the timeout."""
        socket = self._socket
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()

        def resolve(*answer: Any) -> None:
            if not future.done():
                future.set_result(list(answer))

        timeout = self._timeout if self._timeout is not None else socket.nsp.server.ack_timeout
        socket._emit_packet(event, args, resolve, timeout, volatile=self._volatile, future=future)
        return ack_result(await future)


_PLAIN_RESULTS = (type(None), tuple, list, dict, str, int, float, bool, bytes)


def _awaitable(result: Any) -> TypeGuard[Awaitable[Any]]:
    """``inspect.isawaitable``, quick for the plain values handlers usually return."""
    return type(result) not in _PLAIN_RESULTS and inspect.isawaitable(result)


def handshake_details(
    *,
    headers: dict[str, str],
    query: dict[str, str],
    auth: dict[str, Any],
    address: str | None,
    url: str,
    secure: bool,
) -> dict[str, Any]:
    """The ``socket.handshake`` dict, with the keys of the JS server."""
    now = time.time()
    return {
        "headers": headers,
        "time": time.strftime(
            "%a %b %d %Y %H:%M:%S GMT+0000 (Coordinated Universal Time)", time.gmtime(now)
        ),
        "address": address,
        "xdomain": "origin" in headers,
        "secure": secure,
        "issued": int(now * 1000),
        "url": url,
        "query": query,
        "auth": auth,
    }


__all__ = ["Handler", "Socket", "check_event_name", "handshake_details"]
