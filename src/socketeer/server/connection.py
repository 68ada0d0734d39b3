"""``Connection``: one Engine.IO session carrying Socket.IO namespaces (the JS ``Client``).

It decodes engine messages into packets, routes them to the namespace sockets, runs the
namespace connection handshake (middlewares included), and drops a client that joins no
namespace within ``connect_timeout``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .. import engineio as eio
from .._emitter import spawn
from .._types import SocketId
from ..exceptions import ConnectionRefusedByServer, RemoteProtocolError
from ..socketio.packets import Packet, PacketType
from ._util import new_id
from .reasons import DisconnectReason
from .socket import Socket, handshake_details

if TYPE_CHECKING:
    from .engine import EngineSocket
    from .namespace import Namespace
    from .server import Server

logger = logging.getLogger("socketeer.server")

MAX_EARLY_PACKETS = 1000
"""Packets a client may send for a namespace before its CONNECT is answered."""


class Connection:
    """The Socket.IO side of one Engine.IO session."""

    __slots__ = (
        "_attachment_timer",
        "_closed",
        "_connect_timer",
        "_loop",
        "_pending",
        "conn",
        "decoder",
        "server",
        "sockets",
    )

    def __init__(self, server: Server, conn: EngineSocket) -> None:
        self.server = server
        self.conn = conn
        self.decoder = server.codec.decoder()
        self.sockets: dict[str, Socket] = {}
        # Namespaces whose CONNECT is being decided (middlewares), with the packets that
        # arrived for them meanwhile: delivered once the socket exists, dropped if refused.
        self._pending: dict[str, list[Packet]] = {}
        self._closed = False
        self._attachment_timer: asyncio.TimerHandle | None = None
        self._loop = loop = asyncio.get_running_loop()
        self._connect_timer: asyncio.TimerHandle | None = loop.call_later(
            server.connect_timeout, self._on_connect_timeout
        )
        conn.on_message = self._on_message
        conn.on("close", self._on_engine_close)

    def handshake(self, auth: dict[str, Any]) -> dict[str, Any]:
        """The ``socket.handshake`` of a socket created on this connection."""
        request = self.conn.request
        url = request.path + ("?" + request.query_string if request.query_string else "")
        return handshake_details(
            headers=dict(request.headers),
            query=dict(request.query),
            auth=auth,
            address=request.client[0] if request.client else None,
            url=url,
            secure=request.secure,
        )

    # -- writing ---------------------------------------------------------------------------

    def write(self, messages: Sequence[str | bytes]) -> None:
        """Send encoded engine messages (one packet, possibly with attachments)."""
        if len(messages) == 1:
            self.conn.send(messages[0])
        else:
            self.conn.send_many(messages)

    # -- incoming --------------------------------------------------------------------------

    def _on_message(self, data: str | bytes) -> None:
        if self._closed:
            return
        try:
            packet = self.decoder.receive(data, self._loop.time())
        except RemoteProtocolError as exc:
            logger.debug("invalid packet from %s: %s", self.conn.sid, exc)
            self.fail(DisconnectReason.PARSE_ERROR)
            return
        if self._attachment_timer is not None or self.decoder.deadline is not None:
            self._arm_attachment_timer()
        if packet is not None:
            self._route(packet)

    def _arm_attachment_timer(self) -> None:
        deadline = self.decoder.deadline
        if self._attachment_timer is not None:
            self._attachment_timer.cancel()
            self._attachment_timer = None
        if deadline is not None:
            loop = asyncio.get_running_loop()
            self._attachment_timer = loop.call_at(deadline, self._on_attachment_timeout)

    def _on_attachment_timeout(self) -> None:
        self._attachment_timer = None
        try:
            self.decoder.check_timeout(asyncio.get_running_loop().time())
        except RemoteProtocolError:
            logger.debug("attachments of %s never arrived", self.conn.sid)
            self.fail(DisconnectReason.PARSE_ERROR)
            return
        self._arm_attachment_timer()

    def _route(self, packet: Packet) -> None:
        name = packet.namespace
        socket = self.sockets.get(name)
        if packet.type is PacketType.CONNECT:
            if socket is not None or name in self._pending:
                self.fail(DisconnectReason.PARSE_ERROR)  # JS: "invalid state", then close
                return
            auth = packet.data if isinstance(packet.data, dict) else {}
            self._pending[name] = []
            spawn(self._connect(name, auth), "connect")
        elif socket is not None:
            socket._on_packet(packet)
        else:
            early = self._pending.get(name)
            if early is None or len(early) >= MAX_EARLY_PACKETS:
                # A packet for a namespace the client has not joined (JS closes the
                # client), or too many sent before the CONNECT was answered.
                self.fail(DisconnectReason.PARSE_ERROR)
            else:
                early.append(packet)

    async def _connect(self, name: str, auth: dict[str, Any]) -> None:
        try:
            nsp = await self.server._namespace_for(name, auth)
            if nsp is None:
                self._connect_error(name, {"message": "Invalid namespace"})
                return
            socket, missed = await self._new_socket(nsp, auth)
            try:
                if missed is None or not self.server.recovery_skips_middlewares:
                    await nsp._run_middlewares(socket)
            except ConnectionRefusedByServer as exc:
                error: dict[str, Any] = {"message": exc.message}
                if exc.data is not None:
                    error["data"] = exc.data
                self._connect_error(name, error)
                return
            except Exception:  # a middleware failed: refuse without leaking its details
                logger.exception("error in middleware of %s", name)
                self._connect_error(name, {"message": "Internal server error"})
                return
            if self._closed:
                return
            self.sockets[name] = socket
            if self._connect_timer is not None:
                self._connect_timer.cancel()
                self._connect_timer = None
            for data in missed or ():
                # Missed packets go out before the CONNECT reply, as the JS server sends them.
                self.write(nsp.encode(Packet(PacketType.EVENT, name, data)))
            nsp._add(socket)
            for packet in self._pending.pop(name, ()):
                if not socket.connected:
                    break
                socket._on_packet(packet)
        finally:
            self._pending.pop(name, None)

    async def _new_socket(
        self, nsp: Namespace, auth: dict[str, Any]
    ) -> tuple[Socket, list[list[Any]] | None]:
        """A new socket, or the recovered one with its missed packets."""
        if not self.server.recovery_enabled:
            return Socket(nsp, self, SocketId(new_id()), auth), None
        pid = auth.get("pid")
        offset = auth.get("offset")
        if isinstance(pid, str) and (offset is None or isinstance(offset, str)):
            session = await nsp.adapter.restore_session(pid, offset)
            if session is not None:
                socket = Socket(nsp, self, session.sid, auth)
                socket.pid = session.pid
                socket.data = session.data
                socket.recovered = True
                nsp.adapter.add_all(socket.id, session.rooms)
                return socket, session.missed
        socket = Socket(nsp, self, SocketId(new_id()), auth)
        socket.pid = new_id()
        return socket, None

    def _connect_error(self, name: str, data: dict[str, Any]) -> None:
        if not self._closed:
            packet = Packet(PacketType.CONNECT_ERROR, name, data)
            self.write(self.server.encoder.encode(packet))

    def _on_connect_timeout(self) -> None:
        self._connect_timer = None
        if not self.sockets and not self._closed:
            logger.debug("%s joined no namespace in time", self.conn.sid)
            self._close_engine(DisconnectReason.FORCED_SERVER_CLOSE)

    # -- closing ---------------------------------------------------------------------------

    def remove(self, socket: Socket) -> None:
        """Forget a socket that left its namespace."""
        if self.sockets.get(socket.nsp.name) is socket:
            del self.sockets[socket.nsp.name]

    def fail(self, reason: DisconnectReason) -> None:
        """Close every socket with ``reason`` and the engine session (peer misbehaved)."""
        self._close_engine(reason, engine_reason=eio.CloseReason.PARSE_ERROR)

    def disconnect_all(self) -> None:
        """``socket.disconnect(close=True)``: a DISCONNECT to each namespace, then close."""
        for socket in list(self.sockets.values()):
            socket.disconnect()
        self._close_engine(DisconnectReason.FORCED_SERVER_CLOSE)

    def _close_engine(
        self,
        reason: DisconnectReason,
        engine_reason: eio.CloseReason = eio.CloseReason.FORCED_CLOSE,
    ) -> None:
        self._on_close(reason)
        self.conn.close(engine_reason)

    def _on_engine_close(self, reason: str, description: str) -> None:
        self._on_close(DisconnectReason(reason))

    def _on_close(self, reason: DisconnectReason) -> None:
        if self._closed:
            return
        self._closed = True
        for timer in (self._connect_timer, self._attachment_timer):
            if timer is not None:
                timer.cancel()
        self._connect_timer = self._attachment_timer = None
        for socket in list(self.sockets.values()):
            socket._on_close(reason)
        self.sockets.clear()
        self.decoder.reset()


__all__ = ["Connection"]
