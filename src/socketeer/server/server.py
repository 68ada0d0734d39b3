"""``Server``: the Socket.IO server (the JS ``Server``), running on an ``EngineServer``."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, overload

from .._emitter import H, spawn
from .._types import Room
from ..adapters.base import LocalSockets
from ..adapters.memory import Encode, InMemoryAdapter
from ..adapters.recovery import ConnectionStateRecovery
from ..engineio import CloseReason
from ..socketio.codecs import Codec, JsonCodec
from ._util import Done
from .broadcast import BroadcastOperator, RemoteSocket
from .connection import Connection
from .engine import AllowRequest, CookieOptions, EngineServer, EngineSocket
from .http import CorsOptions, OriginPolicy
from .namespace import Middleware, Namespace, NamespaceMatcher, ParentNamespace
from .reasons import DisconnectReason

logger = logging.getLogger("socketeer.server")

AdapterFactory = Callable[[LocalSockets, Encode], InMemoryAdapter]


class Server:
    """A Socket.IO v5 server.

    Args:
        cors_allowed_origins, cors_credentials, cors, ping_interval, ping_timeout,
        upgrade_timeout, max_http_buffer_size, transports, allow_upgrades, allow_request,
        cookie: Engine.IO options (see ``EngineServer``), used when ``engine`` is not given.
        engine: an ``EngineServer`` to run on.
        path: the endpoint path (``/socket.io/``).
        codec: the packet codec (``JsonCodec()``, or ``MsgpackCodec()``).
        adapter: ``(namespace, encode) -> adapter``; the in-memory adapter by default.
        connect_timeout: a client that joins no namespace in this many seconds is dropped.
        ack_timeout: the default timeout of ``emit_with_ack`` (None: wait forever).
        cleanup_empty_child_namespaces: drop dynamic child namespaces once empty.
        connection_state_recovery: ``True`` or ``ConnectionStateRecovery(...)`` to let
            clients that drop recover their socket id, rooms, data and missed events.

    ``io.on("connection")``, ``io.use(...)``, ``io.emit(...)``, ``io.to(...)`` and the other
    broadcast methods act on the main namespace ``/``, as in JS.
    """

    def __init__(
        self,
        *,
        cors_allowed_origins: OriginPolicy = None,
        cors_credentials: bool = False,
        cors: CorsOptions | None = None,
        ping_interval: float = 25.0,
        ping_timeout: float = 20.0,
        upgrade_timeout: float = 10.0,
        max_http_buffer_size: int = 1_000_000,
        transports: Sequence[str] = ("polling", "websocket"),
        allow_upgrades: bool = True,
        allow_request: AllowRequest | None = None,
        cookie: CookieOptions | bool | None = None,
        engine: EngineServer | None = None,
        path: str = "/socket.io/",
        codec: Codec | None = None,
        adapter: AdapterFactory = InMemoryAdapter,
        connect_timeout: float = 45.0,
        ack_timeout: float | None = None,
        cleanup_empty_child_namespaces: bool = False,
        connection_state_recovery: ConnectionStateRecovery | bool | None = None,
    ) -> None:
        self.engine = engine or EngineServer(
            cors_allowed_origins=cors_allowed_origins,
            cors_credentials=cors_credentials,
            cors=cors,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            upgrade_timeout=upgrade_timeout,
            max_http_buffer_size=max_http_buffer_size,
            transports=transports,
            allow_upgrades=allow_upgrades,
            allow_request=allow_request,
            cookie=cookie,
        )
        self.default_path = path
        self.codec: Codec = codec or JsonCodec()
        self.encoder = self.codec.encoder()
        self.adapter_factory = adapter
        self.connect_timeout = connect_timeout
        self.ack_timeout = ack_timeout
        self.cleanup_empty_child_namespaces = cleanup_empty_child_namespaces
        if connection_state_recovery is True:
            connection_state_recovery = ConnectionStateRecovery()
        self.recovery: ConnectionStateRecovery | None = connection_state_recovery or None
        self._nsps: dict[str, Namespace] = {}
        self._parents: list[ParentNamespace] = []
        self._middlewares: list[Middleware] = []
        self._listeners: dict[str, list[Callable[..., Any]]] = {}
        self.engine.on("connection", self._on_engine_connection)
        self.sockets = self.of("/")

    # -- namespaces ------------------------------------------------------------------------

    @overload
    def of(self, name: str) -> Namespace: ...

    @overload
    def of(self, name: re.Pattern[str] | NamespaceMatcher) -> ParentNamespace: ...

    def of(self, name: str | re.Pattern[str] | NamespaceMatcher) -> Namespace:
        """The namespace ``name``, created on first use; a regex or a callable
        ``(name, auth) -> bool`` makes a parent of dynamic namespaces."""
        if isinstance(name, str):
            if not name.startswith("/"):
                name = "/" + name
            nsp = self._nsps.get(name)
            if nsp is None:
                nsp = self._nsps[name] = self._new_namespace(Namespace(self, name))
            return nsp
        parent = ParentNamespace(self, name, cleanup_empty=self.cleanup_empty_child_namespaces)
        self._parents.append(parent)
        return parent

    async def _namespace_for(self, name: str, auth: dict[str, Any]) -> Namespace | None:
        nsp = self._nsps.get(name)
        if nsp is None:
            for parent in self._parents:
                if await parent.matches(name, auth):
                    nsp = self._nsps.get(name)  # another client may have created it meanwhile
                    if nsp is None:
                        nsp = self._nsps[name] = self._new_namespace(parent.create_child(name))
                    break
            else:
                return None
        await nsp._start_adapter()  # a no-op once started
        return nsp

    async def start(self) -> None:
        """Start the adapter of every namespace created so far (a cluster adapter subscribes
        to its channels). ``ASGIApp`` awaits it at lifespan startup; without it, and for
        namespaces created later, each adapter starts before its namespace's first
        connection."""
        for nsp in list(self._nsps.values()):
            await nsp._start_adapter()

    def _new_namespace(self, nsp: Namespace) -> Namespace:
        if self.recovery is not None:
            nsp.adapter.enable_recovery(self.recovery)
        self._emit_server("new_namespace", nsp)
        return nsp

    @property
    def recovery_enabled(self) -> bool:
        """Whether connection-state recovery is on."""
        return self.recovery is not None

    @property
    def recovery_skips_middlewares(self) -> bool:
        """Whether recovered connections skip the connection middlewares."""
        return self.recovery is not None and self.recovery.skip_middlewares

    def _drop_namespace(self, nsp: Namespace) -> None:
        if self._nsps.get(nsp.name) is nsp:
            del self._nsps[nsp.name]
            if nsp._adapter_started is not None:
                spawn(nsp.adapter.close(), "adapter close")  # as JS: the child's adapter closes

    def _middlewares_of(self, nsp: Namespace) -> list[Middleware]:
        return []

    # -- events of the server and the main namespace ----------------------------------------

    @overload
    def on(self, event: str) -> Callable[[H], H]: ...

    @overload
    def on(self, event: str, handler: H) -> H: ...

    def on(self, event: str, handler: H | None = None) -> H | Callable[[H], H]:
        """``connection``/``connect`` listen on the main namespace; ``new_namespace`` on the
        server."""
        if event != "new_namespace":
            return self.sockets.on(event) if handler is None else self.sockets.on(event, handler)

        def register(func: H) -> H:
            self._listeners.setdefault(event, []).append(func)
            return func

        return register if handler is None else register(handler)

    def _emit_server(self, event: str, *args: Any) -> None:
        for handler in tuple(self._listeners.get(event, ())):
            try:
                handler(*args)
            except Exception:  # a user handler failed
                logger.exception("error in %r handler", event)

    def use(self, middleware: Middleware) -> Middleware:
        """A connection middleware of the main namespace."""
        return self.sockets.use(middleware)

    def _on_engine_connection(self, conn: EngineSocket) -> None:
        Connection(self, conn)

    # -- broadcasting on the main namespace -----------------------------------------------

    def to(self, room: Room | Iterable[Room]) -> BroadcastOperator:
        """Target the sockets in ``room`` (of the main namespace)."""
        return self.sockets.to(room)

    def in_(self, room: Room | Iterable[Room]) -> BroadcastOperator:
        """Alias of ``to``."""
        return self.sockets.to(room)

    def except_(self, room: Room | Iterable[Room]) -> BroadcastOperator:
        """Every socket but those in ``room``."""
        return self.sockets.except_(room)

    @property
    def local(self) -> BroadcastOperator:
        """Only this node's sockets."""
        return self.sockets.local

    @property
    def volatile(self) -> BroadcastOperator:
        """Drop the event for clients that are not writable now."""
        return self.sockets.volatile

    def compress(self, compress: bool) -> BroadcastOperator:
        """Compression flag."""
        return self.sockets.compress(compress)

    def timeout(self, seconds: float) -> BroadcastOperator:
        """Acknowledgement timeout for ``emit_with_ack``."""
        return self.sockets.timeout(seconds)

    def emit(self, event: str, *args: Any) -> Done:
        """Send an event to every socket of the main namespace."""
        return self.sockets.emit(event, *args)

    def send(self, *args: Any) -> Done:
        """Emit a ``message`` event to the main namespace."""
        return self.sockets.send(*args)

    async def emit_with_ack(self, event: str, *args: Any) -> list[Any]:
        """Broadcast and collect acknowledgements."""
        return await self.sockets.emit_with_ack(event, *args)

    async def fetch_sockets(self) -> list[RemoteSocket]:
        """Every socket of the main namespace."""
        return await self.sockets.fetch_sockets()

    async def sockets_join(self, room: Room | Iterable[Room]) -> None:
        """Make every socket of the main namespace join ``room``."""
        await self.sockets.sockets_join(room)

    async def sockets_leave(self, room: Room | Iterable[Room]) -> None:
        """Make every socket of the main namespace leave ``room``."""
        await self.sockets.sockets_leave(room)

    async def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect every socket of the main namespace."""
        await self.sockets.disconnect_sockets(close)

    async def server_side_emit(self, event: str, *args: Any) -> None:
        """Send an event to the other nodes of the cluster (their ``io.on(event)``
        handlers receive ``args``)."""
        await self.sockets.server_side_emit(event, *args)

    async def server_side_emit_with_ack(self, event: str, *args: Any) -> list[Any]:
        """Send an event to the other nodes and return one answer per node (see
        ``Namespace.server_side_emit_with_ack``)."""
        return await self.sockets.server_side_emit_with_ack(event, *args)

    # -- shutdown --------------------------------------------------------------------------

    async def close(self) -> None:
        """Disconnect everyone with "server shutting down" and close the engine."""
        for nsp in list(self._nsps.values()):
            for socket in list(nsp.sockets.values()):
                socket.client._on_close(DisconnectReason.SERVER_SHUTTING_DOWN)
        await self.engine.close(CloseReason.SERVER_SHUTTING_DOWN)
        for nsp in list(self._nsps.values()):
            try:
                await nsp.adapter.close()
            except Exception:  # one adapter failing to close must not keep the others open
                logger.exception("error while closing the adapter of %s", nsp.name)


__all__ = ["Server"]
