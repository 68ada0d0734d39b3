"""``Namespace``: a communication channel that sockets join (the JS ``Namespace``).

A namespace owns its sockets, its connection middlewares and its adapter; it is the
``LocalSockets`` view that the adapter sees. ``ParentNamespace`` creates child namespaces
on demand for names that match a pattern (dynamic namespaces).
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from .._emitter import Emitter
from .._types import Room, SocketId
from ..adapters.base import SocketDetails
from ..socketio.packets import Packet
from ._util import Done
from .broadcast import BroadcastOperator, RemoteSocket
from .socket import Socket

if TYPE_CHECKING:
    from ..adapters.memory import InMemoryAdapter
    from .server import Server

logger = logging.getLogger("socketeer.server")

Middleware = Callable[[Socket], Awaitable[None] | None]
NamespaceMatcher = Callable[[str, dict[str, Any]], bool | Awaitable[bool]]


class Namespace(Emitter):
    """A namespace. Events: ``connection(socket)`` (alias ``connect``).

    Raise ``ConnectionRefusedByServer(message, data)`` in a middleware to refuse a
    connection; the client's ``connect_error`` receives the message and the data.
    """

    __slots__ = ("_ack_ids", "_middlewares", "adapter", "name", "parent", "server", "sockets")

    def __init__(self, server: Server, name: str, parent: ParentNamespace | None = None) -> None:
        super().__init__()
        self.server = server
        self.name = name
        self.parent = parent
        self.sockets: dict[SocketId, Socket] = {}
        self._middlewares: list[Middleware] = []
        self._ack_ids = 0
        self.adapter: InMemoryAdapter = server.adapter_factory(self, self.encode)

    def __repr__(self) -> str:
        return f"<Namespace {self.name}>"

    def encode(self, packet: Packet) -> list[str | bytes]:
        """Encode a packet with the server's codec."""
        return self.server.encoder.encode(packet)

    # -- connection ------------------------------------------------------------------------

    def use(self, middleware: Middleware) -> Middleware:
        """Run ``middleware(socket)`` (may be async) before each connection is accepted."""
        self._middlewares.append(middleware)
        return middleware

    async def _run_middlewares(self, socket: Socket) -> None:
        chain = [*self.server._middlewares_of(self), *self._middlewares]
        for middleware in chain:
            result = middleware(socket)
            if inspect.isawaitable(result):
                await result

    def _add(self, socket: Socket) -> None:
        self.sockets[socket.id] = socket
        socket._on_connect()
        self._emit_background("connection", socket)
        self._emit_background("connect", socket)

    def _remove(self, socket: Socket) -> None:
        if self.sockets.get(socket.id) is socket:
            del self.sockets[socket.id]
        if not self.sockets and self.parent is not None:
            self.parent._child_empty(self)

    # -- LocalSockets (what the adapter sees) -----------------------------------------------

    def send_encoded(
        self,
        ids: Iterable[SocketId],
        messages: Sequence[str | bytes],
        *,
        volatile: bool,
        packet: Packet | None = None,
    ) -> None:
        sockets = self.sockets
        single = messages[0] if len(messages) == 1 else None
        for id in ids:
            socket = sockets.get(id)
            if socket is None:
                continue
            conn = socket.client.conn
            if volatile and not conn.writable:
                continue
            if socket._any_outgoing and packet is not None:
                socket._notify_outgoing(packet)
            if single is not None:
                conn.send(single)
            else:
                conn.send_many(messages)

    def disconnect_local(self, ids: Iterable[SocketId], *, close: bool) -> None:
        for id in list(ids):
            socket = self.sockets.get(id)
            if socket is not None:
                socket.disconnect(close)

    def describe(self, id: SocketId) -> SocketDetails | None:
        socket = self.sockets.get(id)
        if socket is None:
            return None
        return SocketDetails(id, socket.handshake, socket.rooms, socket.data)

    def _next_ack_id(self) -> int:
        self._ack_ids += 1
        return self._ack_ids

    def _ack_registrar(
        self, answered: Callable[[SocketId, list[Any]], None], waiting: set[SocketId]
    ) -> Callable[[Iterable[SocketId], Sequence[str | bytes], int], int]:
        """How a broadcast with acks registers the shared ack id on each local recipient."""

        def register(ids: Iterable[SocketId], messages: Sequence[str | bytes], ack_id: int) -> int:
            count = 0
            for id in ids:
                socket = self.sockets.get(id)
                if socket is None or not socket.connected:
                    continue

                def on_ack(args: list[Any], id: SocketId = id) -> None:
                    answered(id, args)

                socket._acks[ack_id] = on_ack
                waiting.add(id)
                socket.client.write(messages)
                count += 1
            return count

        return register

    def _forget_acks(self, ids: Iterable[SocketId], ack_id: int) -> None:
        for id in ids:
            socket = self.sockets.get(id)
            if socket is not None:
                socket._acks.pop(ack_id, None)

    # -- broadcasting ----------------------------------------------------------------------

    def _operator(self) -> BroadcastOperator:
        return BroadcastOperator(self)

    def to(self, room: Room | Iterable[Room]) -> BroadcastOperator:
        """Target the sockets in ``room``."""
        return self._operator().to(room)

    def in_(self, room: Room | Iterable[Room]) -> BroadcastOperator:
        """Alias of ``to``."""
        return self._operator().to(room)

    def except_(self, room: Room | Iterable[Room]) -> BroadcastOperator:
        """Target every socket but those in ``room``."""
        return self._operator().except_(room)

    @property
    def local(self) -> BroadcastOperator:
        """Only this node's sockets."""
        return self._operator().local

    @property
    def volatile(self) -> BroadcastOperator:
        """Drop the event for clients that are not writable now."""
        return self._operator().volatile

    def compress(self, compress: bool) -> BroadcastOperator:
        """Compression flag (negotiated by the WebSocket layer)."""
        return self._operator().compress(compress)

    def timeout(self, seconds: float) -> BroadcastOperator:
        """Acknowledgement timeout for ``emit_with_ack``."""
        return self._operator().timeout(seconds)

    def emit(self, event: str, *args: Any) -> Done:
        """Send an event to every socket of the namespace."""
        return self._operator().emit(event, *args)

    def send(self, *args: Any) -> Done:
        """Emit a ``message`` event to every socket."""
        return self._operator().emit("message", *args)

    async def emit_with_ack(self, event: str, *args: Any) -> list[Any]:
        """Broadcast and collect every acknowledgement (see ``BroadcastOperator``)."""
        return await self._operator().emit_with_ack(event, *args)

    async def fetch_sockets(self) -> list[RemoteSocket]:
        """Every socket of the namespace."""
        return await self._operator().fetch_sockets()

    async def sockets_join(self, room: Room | Iterable[Room]) -> None:
        """Make every socket join ``room``."""
        await self._operator().sockets_join(room)

    async def sockets_leave(self, room: Room | Iterable[Room]) -> None:
        """Make every socket leave ``room``."""
        await self._operator().sockets_leave(room)

    async def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect every socket."""
        await self._operator().disconnect_sockets(close)

    async def server_side_emit(self, event: str, *args: Any) -> list[Any]:
        """Send an event to the other server nodes (a no-op on a single node)."""
        return await self.adapter.server_side_emit([event, *args])


class ParentNamespace(Namespace):
    """Creates child namespaces for names accepted by a regex or a (possibly async) callable.

    Handlers and middlewares registered on the parent apply to every child. Events:
    ``connection(socket)`` for sockets of any child, and ``new_namespace(child)`` on the
    server when a child is created.
    """

    __slots__ = ("_matcher", "children", "cleanup_empty")

    def __init__(
        self,
        server: Server,
        matcher: re.Pattern[str] | NamespaceMatcher,
        *,
        cleanup_empty: bool,
    ) -> None:
        super().__init__(server, f"/_{id(self)}")
        self._matcher = matcher
        self.children: dict[str, Namespace] = {}
        self.cleanup_empty = cleanup_empty

    async def matches(self, name: str, auth: dict[str, Any]) -> bool:
        """Whether this parent accepts namespace ``name``."""
        matcher = self._matcher
        if isinstance(matcher, re.Pattern):
            return matcher.fullmatch(name) is not None
        result = matcher(name, auth)
        if not isinstance(result, bool):
            result = await result
        return bool(result)

    def create_child(self, name: str) -> Namespace:
        """The child namespace ``name`` (created and announced on first use)."""
        child = Namespace(self.server, name, parent=self)
        child._middlewares = self._middlewares  # shared: the parent's list, live
        child._handlers = self._handlers
        self.children[name] = child
        return child

    def _child_empty(self, child: Namespace) -> None:
        if self.cleanup_empty and self.children.get(child.name) is child:
            del self.children[child.name]
            self.server._drop_namespace(child)

    def emit(self, event: str, *args: Any) -> Done:
        """Send an event to every socket of every child."""
        for child in list(self.children.values()):
            child.emit(event, *args)
        return Done()


__all__ = ["Middleware", "Namespace", "NamespaceMatcher", "ParentNamespace"]
