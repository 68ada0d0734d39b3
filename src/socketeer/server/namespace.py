"""``Namespace``: a communication channel that sockets join (the JS ``Namespace``).

A namespace owns its sockets, its connection middlewares and its adapter; it is the
``LocalSockets`` view that the adapter sees. ``ParentNamespace`` creates child namespaces
on demand for names that match a pattern (dynamic namespaces).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from .._emitter import Emitter, spawn
from .._types import Room, SocketId
from ..adapters.base import AckRegistrar, ServerSideReply, SocketDetails
from ..exceptions import LocalProtocolError
from ..socketio.packets import RESERVED_EVENTS, Packet
from ._util import Done, ack_args
from .broadcast import BroadcastOperator, RemoteSocket
from .socket import Socket

if TYPE_CHECKING:
    from ..adapters.memory import InMemoryAdapter
    from .server import Server

logger = logging.getLogger("socketeer.server")

# Names a server-side event may not have (JS namespace.ts RESERVED_EVENTS): they would reach
# the namespace's own listeners.
_NAMESPACE_EVENTS = frozenset({"connect", "connection", "new_namespace"})

Middleware = Callable[[Socket], Awaitable[None] | None]
NamespaceMatcher = Callable[[str, dict[str, Any]], bool | Awaitable[bool]]


class Namespace(Emitter):
    """A namespace. Events: ``connection(socket)`` (alias ``connect``).

    Raise ``ConnectionRefusedByServer(message, data)`` in a middleware to refuse a
    connection; the client's ``connect_error`` receives the message and the data.
    """

    __slots__ = (
        "_ack_ids",
        "_adapter_started",
        "_middlewares",
        "adapter",
        "name",
        "parent",
        "server",
        "sockets",
    )

    def __init__(self, server: Server, name: str, parent: ParentNamespace | None = None) -> None:
        super().__init__()
        self.server = server
        self.name = name
        self.parent = parent
        self.sockets: dict[SocketId, Socket] = {}
        self._middlewares: list[Middleware] = []
        self._ack_ids = 0
        self.adapter: InMemoryAdapter = server.adapter_factory(self, self.encode)
        self._adapter_started: asyncio.Future[None] | None = None

    def __repr__(self) -> str:
        return f"<Namespace {self.name}>"

    def encode(self, packet: Packet) -> list[str | bytes]:
        """Encode a packet with the server's codec."""
        return self.server.encoder.encode(packet)

    async def _start_adapter(self) -> None:
        """Run ``adapter.init()`` once (subscriptions of a cluster adapter), before the first
        connection; concurrent callers wait for the same start, a failed start is retried."""
        started = self._adapter_started
        if started is None:
            started = self._adapter_started = asyncio.ensure_future(self.adapter.init())
        elif started.done() and started.exception() is None:
            return
        try:
            await asyncio.shield(started)
        except Exception:
            if self._adapter_started is started:
                self._adapter_started = None
            raise

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

    def next_ack_id(self) -> int:
        return self._next_ack_id()

    def ack_registrar(
        self, answered: Callable[[SocketId, list[Any]], None], waiting: set[SocketId]
    ) -> AckRegistrar:
        return self._ack_registrar(answered, waiting)

    def forget_acks(self, ids: Iterable[SocketId], ack_id: int) -> None:
        self._forget_acks(ids, ack_id)

    def server_side_event(self, args: list[Any], reply: ServerSideReply | None) -> None:
        """Run the handlers of an event sent by another node (JS ``_onServerSideEmit``):
        ``nsp.on(event)`` handlers (``io.on(event)`` for the main namespace) get the
        arguments; with ``reply``, the first handler's return value (awaited when it is a
        coroutine; its first item when a tuple) is the answer."""
        event = args[0] if args else None
        if not isinstance(event, str) or event in _NAMESPACE_EVENTS or event in RESERVED_EVENTS:
            logger.warning("dropped a server-side event with the name %r", event)
            return
        handlers = self._handlers.get(event)
        if not handlers:
            if reply is not None:
                reply(None)  # nobody will answer: do not leave the other node waiting
            return
        first = True
        for handler in tuple(handlers):
            try:
                result = handler(*args[1:])
            except Exception:  # a user handler failed; the adapter must go on
                logger.exception("error in server-side %r handler", event)
                result = None
            if first and reply is not None:
                if inspect.isawaitable(result):
                    spawn(_reply_when_done(result, reply), event)
                else:
                    reply(_first(ack_args(result)))
            elif inspect.isawaitable(result):
                spawn(result, event)
            first = False

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

    async def server_side_emit(self, event: str, *args: Any) -> None:
        """Send an event to the other server nodes (a no-op on a single node); their
        ``nsp.on(event)`` handlers receive ``args``."""
        _check_server_side_event(event)
        await self.adapter.server_side_emit([event, *args])

    async def server_side_emit_with_ack(self, event: str, *args: Any) -> list[Any]:
        """Send an event to the other server nodes and return one answer per node (what
        their first handler returned). Raises ``AdapterTimeout`` when some nodes do not
        answer within the adapter's request timeout; its ``responses`` holds the answers
        that came."""
        _check_server_side_event(event)
        return await self.adapter.server_side_emit_with_ack([event, *args])


def _check_server_side_event(event: str) -> None:
    if not isinstance(event, str) or not event:
        raise LocalProtocolError(f"an event name must be a non-empty string, not {event!r}")
    if event in _NAMESPACE_EVENTS or event in RESERVED_EVENTS:
        raise LocalProtocolError(f'"{event}" is a reserved event name')


def _first(args: list[Any]) -> Any:
    return args[0] if args else None


async def _reply_when_done(awaitable: Awaitable[Any], reply: ServerSideReply) -> None:
    try:
        result = await awaitable
    except Exception:  # a user handler failed; answer with nothing
        logger.exception("error in a server-side event handler")
        result = None
    reply(_first(ack_args(result)))


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
