"""The server side of the official Socket.IO admin dashboard (``@socket.io/admin-ui`` 0.5).

``socketeer.instrument(io, auth=...)`` adds the ``/admin`` namespace that the dashboard
connects to (https://admin.socket.io, or its built UI from the npm package) and feeds it
what the JS ``instrument()`` feeds it (``@socket.io/admin-ui`` ``lib/index.ts``):

- to each dashboard socket, once: ``session`` (after a password login), ``config``
  (the supported features) and, in development mode, ``all_sockets``;
- to every dashboard socket, every 2 s: ``server_stats`` (engine clients, polling
  clients, namespaces with their socket counts, and the aggregated events of the last
  seconds: connections, disconnections, packets and bytes in and out);
- in development mode, as they happen: ``socket_connected``, ``socket_updated``
  (transport upgrade; a changed ``socket.data``, noticed at the next 2 s tick),
  ``socket_disconnected``, ``room_joined``, ``room_left``, ``event_received`` and
  ``event_sent``.

The dashboard's commands (``emit``, ``join``, ``leave``, ``_disconnect``) act on the named
namespace, optionally only on the sockets of one room; with ``read_only=True`` they are not
registered at all (and the dashboard hides them, as no feature is announced).

Authentication is the protocol's: the dashboard sends ``{username, password}`` (or a
``sessionId`` from an earlier login) in its CONNECT packet. The password given to
``instrument`` is plain text or a bcrypt hash (what the JS side requires; checking one
needs the ``bcrypt`` package: ``pip install socketeer[admin]``).

Where this differs from JS: ``uptime`` counts from ``instrument()``; outgoing packets and
bytes count the events sent to sockets (JS counts every Engine.IO packet); the login
``session`` event is sent right after the connection is accepted (JS emits it from the
middleware, before the CONNECT reply).
"""

from __future__ import annotations

import asyncio
import datetime
import enum
import hmac
import json
import logging
import os
import secrets
import socket as _socket
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

from ._types import Room, SocketId
from .exceptions import ConnectionRefusedByServer, LocalProtocolError
from .socketio.packets import Packet, PacketType

if TYPE_CHECKING:
    from .server.engine import EngineSocket
    from .server.namespace import Namespace
    from .server.server import Server
    from .server.socket import Socket

logger = logging.getLogger("socketeer.admin")

STATS_INTERVAL: Final = 2.0
"""Seconds between two ``server_stats`` events (as JS)."""
MAX_SESSIONS: Final = 1_000
"""Dashboard login sessions kept; the oldest is forgotten first."""
SESSION_LIFETIME: Final = 86_400.0
"""Seconds a dashboard login session stays valid (the JS ``RedisStore`` default)."""
MAX_DATA_CHARS: Final = 64_000
"""``socket.data`` larger than this (as JSON) is shown as a placeholder."""

_BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")


class Feature(enum.StrEnum):
    """What the server supports, as announced in the ``config`` event."""

    EMIT = "EMIT"
    JOIN = "JOIN"
    LEAVE = "LEAVE"
    DISCONNECT = "DISCONNECT"
    MJOIN = "MJOIN"
    MLEAVE = "MLEAVE"
    MDISCONNECT = "MDISCONNECT"
    AGGREGATED_EVENTS = "AGGREGATED_EVENTS"
    ALL_EVENTS = "ALL_EVENTS"


_COMMAND_FEATURES = (
    Feature.EMIT,
    Feature.JOIN,
    Feature.LEAVE,
    Feature.DISCONNECT,
    Feature.MJOIN,
    Feature.MLEAVE,
    Feature.MDISCONNECT,
)


def _now_iso() -> str:
    """A timestamp as JS ``JSON.stringify(new Date())`` writes it."""
    now = datetime.datetime.now(datetime.UTC)
    return now.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _json_safe(value: Any) -> Any:
    """``value`` as JSON data (what the dashboard can display); bytes become a summary."""

    def fallback(obj: object) -> str:
        if isinstance(obj, bytes | bytearray | memoryview):
            return f"<{len(obj)} bytes>"
        if isinstance(obj, set | frozenset):
            return repr(sorted(obj, key=repr))
        return repr(obj)

    try:
        text = json.dumps(value, default=fallback, ensure_ascii=False)
    except (TypeError, ValueError):  # non-str keys, circular references
        return repr(value)
    if len(text) > MAX_DATA_CHARS:
        return f"<{len(text)} characters of data>"
    return json.loads(text)


def serialize_data(data: Any) -> Any:
    """``socket.data`` as the dashboard shows it (JS ``serializeData``: no ``_admin`` key)."""
    if data is None:
        return {}
    if isinstance(data, Mapping):
        return _json_safe({str(k): v for k, v in data.items() if k != "_admin"})
    return _json_safe(data)


class _PasswordCheck:
    """Checks a password against the plain text or the bcrypt hash given to ``instrument``."""

    __slots__ = ("_bcrypt", "_expected")

    def __init__(self, expected: str) -> None:
        self._expected = expected.encode("utf-8")
        self._bcrypt: Callable[[bytes, bytes], bool] | None = None
        if expected.startswith(_BCRYPT_PREFIXES) and len(expected) == 60:
            try:
                import bcrypt
            except ImportError:
                raise LocalProtocolError(
                    "the admin password is a bcrypt hash: checking it needs the bcrypt "
                    "package (pip install 'socketeer[admin]'), or give the plain password"
                ) from None
            self._bcrypt = bcrypt.checkpw

    async def __call__(self, password: str) -> bool:
        given = password.encode("utf-8")
        if self._bcrypt is None:
            return hmac.compare_digest(given, self._expected)
        # bcrypt is slow on purpose (tens of ms): keep it off the event loop.
        return await asyncio.to_thread(self._bcrypt, given, self._expected)


class _Sessions:
    """Dashboard login sessions (the JS ``InMemoryStore``), bounded in count and time."""

    __slots__ = ("_expiry",)

    def __init__(self) -> None:
        self._expiry: OrderedDict[str, float] = OrderedDict()

    def create(self) -> str:
        session_id = secrets.token_hex(8)
        self._expiry[session_id] = time.monotonic() + SESSION_LIFETIME
        while len(self._expiry) > MAX_SESSIONS:
            self._expiry.popitem(last=False)
        return session_id

    def valid(self, session_id: str) -> bool:
        expiry = self._expiry.get(session_id)
        if expiry is None:
            return False
        if expiry < time.monotonic():
            del self._expiry[session_id]
            return False
        return True


class _EventBuffer:
    """Counts per second and type, sent and cleared with each ``server_stats`` (JS
    ``EventBuffer``). At most a few keys per second: bounded by the stats interval."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer: dict[tuple[int, str, str | None], int] = {}

    def push(self, kind: str, sub_type: str | None = None, count: int = 1) -> None:
        key = (int(time.time()) * 1000, kind, sub_type)
        self._buffer[key] = self._buffer.get(key, 0) + count

    def drain(self) -> list[dict[str, Any]]:
        values: list[dict[str, Any]] = []
        for (timestamp, kind, sub_type), count in self._buffer.items():
            entry: dict[str, Any] = {"timestamp": timestamp, "type": kind, "count": count}
            if sub_type is not None:
                entry["subType"] = sub_type
            values.append(entry)
        self._buffer.clear()
        return values


@dataclass(frozen=True, slots=True)
class _Command:
    """The arguments of a dashboard command, checked: peer input."""

    nsp: Namespace
    filter: Room | None


class Instrumentation:
    """What ``instrument()`` returns: the admin namespace and its settings.

    Attributes:
        namespace: the admin namespace (``/admin``).
        features: the features announced to the dashboard.
        server_id: the id shown for this server.
        development: whether every socket, room and event is reported as it happens.
    """

    def __init__(
        self,
        io: Server,
        *,
        auth: Mapping[str, str] | None,
        namespace_name: str,
        read_only: bool,
        server_id: str | None,
        mode: Literal["development", "production"],
    ) -> None:
        if mode not in ("development", "production"):
            raise LocalProtocolError(f'mode must be "development" or "production", not {mode!r}')
        self.io = io
        self.development = mode == "development"
        self.server_id = server_id or _socket.gethostname()
        features = [] if read_only else list(_COMMAND_FEATURES)
        features.append(Feature.AGGREGATED_EVENTS)
        if self.development:
            features.append(Feature.ALL_EVENTS)
        self.features: tuple[Feature, ...] = tuple(features)
        self._started = time.monotonic()
        self._events = _EventBuffer()
        self._sessions = _Sessions()
        self._new_sessions: dict[SocketId, str] = {}
        self._instrumented: set[int] = set()  # ids of the handler dicts already hooked
        self._last_data: dict[tuple[str, SocketId], str] = {}
        self._outgoing_memo: tuple[str, tuple[Any, ...], int] | None = None
        self._timer: asyncio.TimerHandle | None = None

        self.namespace = io.of(namespace_name)
        self._init_auth(auth)
        self.namespace.on("connection", self._on_admin_connection)
        io.engine.on("connection", self._on_engine_connection)
        for nsp in list(io._nsps.values()):
            self._instrument_namespace(nsp)
        io.on("new_namespace", self._instrument_namespace)

    # -- authentication --------------------------------------------------------------------

    def _init_auth(self, auth: Mapping[str, str] | None) -> None:
        if auth is None:
            logger.warning("the admin namespace %s has no authentication", self.namespace.name)
            return
        if auth.get("type") != "basic":
            raise LocalProtocolError('auth must be None or {"type": "basic", ...}')
        username, password = auth.get("username"), auth.get("password")
        if not isinstance(username, str) or not isinstance(password, str) or not password:
            raise LocalProtocolError("basic auth needs a username and a password (strings)")
        expected_user = username.encode("utf-8")
        check = _PasswordCheck(password)

        async def authenticate(socket: Socket) -> None:
            given = socket.handshake.get("auth") or {}
            session_id = given.get("sessionId")
            if isinstance(session_id, str) and self._sessions.valid(session_id):
                return
            user, secret = given.get("username"), given.get("password")
            if (
                isinstance(user, str)
                and isinstance(secret, str)
                and hmac.compare_digest(user.encode("utf-8"), expected_user)
                and await check(secret)
            ):
                self._new_sessions[socket.id] = self._sessions.create()
                return
            raise ConnectionRefusedByServer("invalid credentials")

        self.namespace.use(authenticate)

    # -- the dashboard's own sockets -------------------------------------------------------

    async def _on_admin_connection(self, socket: Socket) -> None:
        session_id = self._new_sessions.pop(socket.id, None)
        if session_id is not None:
            socket.emit("session", session_id)
        self._register_commands(socket)
        socket.emit("config", {"supportedFeatures": [str(f) for f in self.features]})
        socket.emit("server_stats", self._stats(drain=False))
        self._ensure_timer()
        if self.development:
            sockets = await self._all_sockets()
            if socket.connected:
                socket.emit("all_sockets", sockets)

    def _register_commands(self, socket: Socket) -> None:
        if Feature.EMIT not in self.features:
            return  # read-only: the commands do not exist

        @socket.on("emit")
        def emit(*args: Any) -> None:
            command = self._command(args, 1)
            event = args[2] if len(args) > 2 else None
            if command is None or not isinstance(event, str):
                return
            target = command.nsp if command.filter is None else command.nsp.in_(command.filter)
            try:
                target.emit(event, *args[3:])
            except LocalProtocolError as exc:  # a reserved or empty event name
                logger.info("admin emit refused: %s", exc)

        @socket.on("join")
        async def join(*args: Any) -> None:
            command = self._command(args, 2)
            room = args[1] if len(args) > 1 else None
            if command is not None and isinstance(room, str):
                target = command.nsp if command.filter is None else command.nsp.in_(command.filter)
                await target.sockets_join(room)

        @socket.on("leave")
        async def leave(*args: Any) -> None:
            command = self._command(args, 2)
            room = args[1] if len(args) > 1 else None
            if command is not None and isinstance(room, str):
                target = command.nsp if command.filter is None else command.nsp.in_(command.filter)
                await target.sockets_leave(room)

        @socket.on("_disconnect")
        async def disconnect(*args: Any) -> None:
            command = self._command(args, 2)
            close = bool(args[1]) if len(args) > 1 else False
            if command is not None:
                target = command.nsp if command.filter is None else command.nsp.in_(command.filter)
                await target.disconnect_sockets(close)

    def _command(self, args: tuple[Any, ...], filter_at: int) -> _Command | None:
        """The namespace (which must exist: a command never creates one) and room filter."""
        name = args[0] if args else None
        nsp = self.io._nsps.get(name) if isinstance(name, str) else None
        room = args[filter_at] if len(args) > filter_at else None
        if nsp is None or not (room is None or isinstance(room, str)):
            return None
        return _Command(nsp, room or None)

    # -- every namespace -------------------------------------------------------------------

    def _instrument_namespace(self, nsp: Namespace) -> None:
        # Dynamic child namespaces share their parent's handler dict: hook it once, and
        # find the namespace from the socket.
        if id(nsp._handlers) not in self._instrumented:
            self._instrumented.add(id(nsp._handlers))
            nsp.on("connection", self._on_connection)
        if self.development:
            name = nsp.name
            nsp.adapter.on(
                "join-room", lambda room, id: self._room_event("room_joined", name, room, id)
            )
            nsp.adapter.on("leave-room", lambda room, id: self._room_left(name, room, id))

    def _room_event(self, event: str, nsp: str, room: Room, id: SocketId) -> None:
        self.namespace.emit(event, nsp, room, id, _now_iso())

    def _room_left(self, nsp: str, room: Room, id: SocketId) -> None:
        # After the disconnect event, as JS does (process.nextTick).
        now = _now_iso()
        asyncio.get_running_loop().call_soon(
            lambda: self.namespace.emit("room_left", nsp, room, id, now)
        )

    def _on_connection(self, socket: Socket) -> None:
        nsp = socket.nsp
        if nsp is not self.namespace:
            socket.on_any_outgoing(self._count_outgoing)
        if not self.development:
            return
        self.namespace.emit("socket_connected", self._serialize(socket), _now_iso())
        key = (nsp.name, socket.id)
        self._last_data[key] = json.dumps(serialize_data(socket.data), sort_keys=True)

        def upgraded(transport: str) -> None:
            if socket.connected:
                update = {"id": socket.id, "nsp": nsp.name, "transport": transport}
                self.namespace.emit("socket_updated", update)

        socket.conn.on("upgrade", upgraded)
        if nsp is not self.namespace:

            def received(event: str, *args: Any) -> None:
                self.namespace.emit(
                    "event_received", nsp.name, socket.id, [event, *args], _now_iso()
                )

            def sent(event: str, *args: Any) -> None:
                self.namespace.emit("event_sent", nsp.name, socket.id, [event, *args], _now_iso())

            socket.on_any(received)
            socket.on_any_outgoing(sent)

        def disconnected(reason: str) -> None:
            self._last_data.pop(key, None)
            socket.conn.off("upgrade", upgraded)
            self.namespace.emit("socket_disconnected", nsp.name, socket.id, reason, _now_iso())

        socket.on("disconnect", disconnected)

    def _serialize(self, socket: Socket) -> dict[str, Any]:
        return self._describe(
            socket.nsp.name, socket.id, socket.handshake, socket.rooms, socket.data
        )

    def _describe(
        self,
        nsp: str,
        id: SocketId,
        handshake: Mapping[str, Any],
        rooms: frozenset[Room],
        data: Any,
    ) -> dict[str, Any]:
        """A socket as the dashboard expects it (JS ``serialize``)."""
        namespace = self.io._nsps.get(nsp)
        local = namespace.sockets.get(id) if namespace is not None else None
        transport: str | None = None
        client_id: str | None = None
        if local is not None:
            transport = local.conn.transport
            client_id = local.conn.sid[:12]
        elif isinstance(data, Mapping) and isinstance(data.get("_admin"), Mapping):
            transport = data["_admin"].get("transport")  # described by another node
            client_id = data["_admin"].get("clientId")
        headers = handshake.get("headers") or {}
        address = (
            headers.get("cf-connecting-ip")
            or headers.get("x-forwarded-for")
            or handshake.get("address")
        )
        return {
            "id": id,
            "clientId": client_id,
            "transport": transport,
            "nsp": nsp,
            "data": serialize_data(data),
            "handshake": {
                "address": address,
                "headers": headers,
                "query": handshake.get("query"),
                "issued": handshake.get("issued"),
                "secure": handshake.get("secure"),
                "time": handshake.get("time"),
                "url": handshake.get("url"),
                "xdomain": handshake.get("xdomain"),
            },
            "rooms": sorted(rooms),
        }

    async def _all_sockets(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for nsp in list(self.io._nsps.values()):
            for remote in await nsp.fetch_sockets():
                found.append(
                    self._describe(nsp.name, remote.id, remote.handshake, remote.rooms, remote.data)
                )
        return found

    # -- aggregated events -----------------------------------------------------------------

    def _on_engine_connection(self, conn: EngineSocket) -> None:
        events = self._events
        events.push("rawConnection")

        def message(data: str | bytes) -> None:
            events.push("packetsIn")
            size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8"))
            events.push("bytesIn", None, size)

        def close(reason: str, description: object) -> None:
            events.push("rawDisconnection", reason)

        conn.on("message", message)
        conn.on("close", close)
        self._ensure_timer()

    def _count_outgoing(self, event: str, *args: Any) -> None:
        # A broadcast calls this once per recipient with the same objects: encode once.
        memo = self._outgoing_memo
        if (
            memo is not None
            and memo[0] == event
            and len(memo[1]) == len(args)
            and all(a is b for a, b in zip(memo[1], args, strict=True))
        ):
            size = memo[2]
        else:
            packet = Packet(PacketType.EVENT, "/", [event, *args])
            try:
                size = sum(
                    len(m) if isinstance(m, bytes) else len(m.encode("utf-8"))
                    for m in self.io.encoder.encode(packet)
                )
            except Exception:  # noqa: BLE001 - statistics must never break an emit
                size = 0
            self._outgoing_memo = (event, args, size)
        self._events.push("packetsOut")
        self._events.push("bytesOut", None, size)

    # -- server_stats ----------------------------------------------------------------------

    def _stats(self, *, drain: bool) -> dict[str, Any]:
        engine = self.io.engine
        polling = sum(1 for conn in list(engine.sockets.values()) if conn.transport == "polling")
        return {
            "serverId": self.server_id,
            "hostname": _socket.gethostname(),
            "pid": os.getpid(),
            "uptime": time.monotonic() - self._started,
            "clientsCount": engine.clients_count,
            "pollingClientsCount": polling,
            "aggregatedEvents": self._events.drain() if drain else [],
            "namespaces": [
                {"name": nsp.name, "socketsCount": len(nsp.sockets)}
                for nsp in list(self.io._nsps.values())
            ],
        }

    def _ensure_timer(self) -> None:
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(STATS_INTERVAL, self._tick)

    def _tick(self) -> None:
        """Every 2 s while any client is connected: stats, and data changes (development)."""
        self._timer = None
        self.namespace.emit("server_stats", self._stats(drain=True))
        if self.development:
            self._report_data_changes()
        if self.io.engine.clients_count:
            self._ensure_timer()  # else: restarted by the next connection

    def _report_data_changes(self) -> None:
        for nsp in list(self.io._nsps.values()):
            for socket in list(nsp.sockets.values()):
                key = (nsp.name, socket.id)
                data = serialize_data(socket.data)
                text = json.dumps(data, sort_keys=True)
                if self._last_data.get(key, text) != text:
                    self.namespace.emit(
                        "socket_updated", {"id": socket.id, "nsp": nsp.name, "data": data}
                    )
                self._last_data[key] = text

    def close(self) -> None:
        """Stop the stats timer (it also stops by itself once no client is connected)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def instrument(
    io: Server,
    *,
    auth: Mapping[str, str] | None = None,
    namespace_name: str = "/admin",
    read_only: bool = False,
    server_id: str | None = None,
    mode: Literal["development", "production"] = "development",
) -> Instrumentation:
    """Serve the official Socket.IO admin dashboard's protocol on ``io``.

    Args:
        io: the server to watch.
        auth: None (no authentication: anyone who reaches the server may administer it),
            or ``{"type": "basic", "username": ..., "password": ...}`` where the password
            is plain text or a bcrypt hash (``$2b$...``, checked with the ``bcrypt``
            package).
        namespace_name: the namespace the dashboard connects to.
        read_only: refuse every command (emit, join, leave, disconnect).
        server_id: the name of this server in the dashboard (default: the host name).
        mode: "development" reports every socket, room and event as it happens;
            "production" only sends the periodic statistics.

    Call it once, before clients connect (namespaces created later are watched too).
    """
    return Instrumentation(
        io,
        auth=auth,
        namespace_name=namespace_name,
        read_only=read_only,
        server_id=server_id,
        mode=mode,
    )


__all__ = ["Feature", "Instrumentation", "instrument", "serialize_data"]
