"""The client side of one Socket.IO namespace, sans-I/O (the JS client ``Socket`` minus I/O).

``ClientNamespace`` makes the packets a client sends (CONNECT with auth, EVENT with an ack
id, ACK, DISCONNECT) and turns the packets the server sends to this namespace into events.
It keeps what connection-state recovery needs: the private session id (``pid``) the
server gave in its CONNECT reply and the offset of the last event received, both sent
back in the next CONNECT (socket.io-protocol v5, *Connection state recovery*).

States (``NamespaceState``): ``DISCONNECTED`` -> ``connect()`` -> ``CONNECTING`` -> the
server's CONNECT -> ``CONNECTED``; a CONNECT_ERROR, a DISCONNECT, ``disconnect()`` or
``transport_closed()`` lead back to ``DISCONNECTED``.

Events the server sends before its CONNECT reply (a recovering server replays missed
events first) are buffered, at most ``max_receive_buffer`` of them, and delivered right
after the CONNECT, before ``Connected`` (JS ``receiveBuffer``, flushed in ``onconnect``
before the ``connect`` event).

Peer input never raises: a packet that breaks the protocol here (a reserved event name,
a second CONNECT, an overflowing buffer) is reported as ``ProtocolViolation``, and the
runtime closes the connection with "parse error".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from .packets import DEFAULT_NAMESPACE, MAX_ACK_ID, RESERVED_EVENTS, Packet, PacketType

DEFAULT_MAX_RECEIVE_BUFFER = 10_000
"""Default cap on events buffered before the CONNECT reply (the server's recovery cap)."""

V2_SERVER_MESSAGE = (
    "It seems you are trying to reach a Socket.IO server in v2.x with a v3.x client, but they "
    "are not compatible (more information here: "
    "https://socket.io/docs/v3/migrating-from-2-x-to-3-0/)"
)
"""The ``connect_error`` message of the JS client for a CONNECT reply without a sid."""


class NamespaceState(Enum):
    """Where a namespace socket is; see the module docstring."""

    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"


@dataclass(frozen=True, slots=True)
class Connected:
    """The server accepted the namespace connection."""

    sid: str
    recovered: bool


@dataclass(frozen=True, slots=True)
class ConnectRefused:
    """The server refused the namespace connection (CONNECT_ERROR)."""

    message: str
    data: Any = None


@dataclass(frozen=True, slots=True)
class EventReceived:
    """The server emitted an event; ``ack_id`` is set when it wants an acknowledgement."""

    event: str
    args: list[Any]
    ack_id: int | None = None


@dataclass(frozen=True, slots=True)
class AckReceived:
    """The server acknowledged one of our events."""

    ack_id: int
    args: list[Any]


@dataclass(frozen=True, slots=True)
class DisconnectedByServer:
    """The server disconnected this namespace socket (JS "io server disconnect")."""


@dataclass(frozen=True, slots=True)
class ProtocolViolation:
    """The server broke the protocol; the connection must close with "parse error"."""

    description: str


NamespaceEvent = (
    Connected
    | ConnectRefused
    | EventReceived
    | AckReceived
    | DisconnectedByServer
    | ProtocolViolation
)


class ClientNamespace:
    """The Socket.IO state of one namespace socket on the client side.

    Args:
        namespace: the namespace, starting with ``/``.
        max_receive_buffer: the most events buffered before the CONNECT reply.

    Attributes:
        sid: the socket id the server gave (None unless connected).
        pid: the private session id for recovery (None when the server has recovery off).
        last_offset: the offset of the last event received, sent back to recover.
        recovered: whether the last connection recovered the previous session.
    """

    __slots__ = (
        "_next_id",
        "_receive_buffer",
        "last_offset",
        "max_receive_buffer",
        "namespace",
        "pid",
        "recovered",
        "sid",
        "state",
    )

    def __init__(
        self,
        namespace: str = DEFAULT_NAMESPACE,
        *,
        max_receive_buffer: int = DEFAULT_MAX_RECEIVE_BUFFER,
    ) -> None:
        if not namespace.startswith("/") or "," in namespace:
            raise ValueError(f"invalid namespace {namespace!r}: must start with '/', no ','")
        if max_receive_buffer < 0:
            raise ValueError("max_receive_buffer must not be negative")
        self.namespace = namespace
        self.max_receive_buffer = max_receive_buffer
        self.state = NamespaceState.DISCONNECTED
        self.sid: str | None = None
        self.pid: str | None = None
        self.last_offset: str | None = None
        self.recovered = False
        self._next_id = 0
        self._receive_buffer: list[EventReceived] = []

    @property
    def connected(self) -> bool:
        """Whether the namespace connection is established."""
        return self.state is NamespaceState.CONNECTED

    # -- packets to send -------------------------------------------------------------------

    def connect(self, auth: dict[str, Any] | None = None) -> Packet:
        """The CONNECT packet; with a ``pid`` it asks to recover the previous session.

        As in JS (``Object.assign({pid, offset}, auth)``), keys of ``auth`` win.
        """
        self.state = NamespaceState.CONNECTING
        self._receive_buffer = []
        data: dict[str, Any] | None = auth
        if self.pid is not None:
            data = {"pid": self.pid}
            if self.last_offset is not None:
                data["offset"] = self.last_offset
            data.update(auth or {})
        return Packet(PacketType.CONNECT, self.namespace, data)

    def next_ack_id(self) -> int:
        """A fresh acknowledgement id (0, 1, 2... wrapping after ``MAX_ACK_ID``)."""
        ack_id = self._next_id
        self._next_id = 0 if ack_id >= MAX_ACK_ID else ack_id + 1
        return ack_id

    def event(self, event: str, args: Sequence[Any], ack_id: int | None = None) -> Packet:
        """An EVENT packet (the codec checks the name and the arguments when encoding)."""
        return Packet(PacketType.EVENT, self.namespace, [event, *args], ack_id)

    def ack(self, ack_id: int, args: Sequence[Any]) -> Packet:
        """The ACK packet answering the server's event ``ack_id``."""
        return Packet(PacketType.ACK, self.namespace, list(args), ack_id)

    def disconnect(self) -> Packet | None:
        """Leave the namespace: the DISCONNECT packet to send, if connected (as in JS)."""
        was_connected = self.state is NamespaceState.CONNECTED
        self._reset()
        return Packet(PacketType.DISCONNECT, self.namespace) if was_connected else None

    def transport_closed(self) -> None:
        """The connection under the namespace is gone; ``pid`` and offset are kept."""
        self._reset()

    # -- packets received ------------------------------------------------------------------

    def receive(self, packet: Packet) -> list[NamespaceEvent]:
        """Handle a decoded packet addressed to this namespace."""
        state = self.state
        if state is NamespaceState.DISCONNECTED:
            return []  # JS: the socket no longer listens
        match packet.type:
            case PacketType.CONNECT:
                if state is NamespaceState.CONNECTED:
                    return [ProtocolViolation("CONNECT on a connected namespace")]
                return self._on_connect(packet.data)
            case PacketType.CONNECT_ERROR:
                if state is NamespaceState.CONNECTED:
                    return [ProtocolViolation("CONNECT_ERROR on a connected namespace")]
                self._reset()
                data = packet.data
                if isinstance(data, dict):
                    message = data.get("message")
                    return [
                        ConnectRefused("" if message is None else str(message), data.get("data"))
                    ]
                return [ConnectRefused(str(data))]
            case PacketType.EVENT:
                return self._on_event(packet)
            case PacketType.ACK:
                assert packet.id is not None  # the decoders check ACK packets
                assert isinstance(packet.data, list)
                return [AckReceived(packet.id, packet.data)]
            case _:  # DISCONNECT (the decoders fold the binary types into EVENT / ACK)
                self._reset()
                return [DisconnectedByServer()]

    def _on_connect(self, data: Any) -> list[NamespaceEvent]:
        sid = data.get("sid") if isinstance(data, dict) else None
        if not isinstance(sid, str) or not sid:
            self._reset()
            return [ConnectRefused(V2_SERVER_MESSAGE)]
        pid = data.get("pid")
        pid = pid if isinstance(pid, str) and pid else None
        self.recovered = pid is not None and pid == self.pid
        if not self.recovered:
            self.last_offset = None  # an offset of another session means nothing here
        self.pid = pid
        self.sid = sid
        self.state = NamespaceState.CONNECTED
        events: list[NamespaceEvent] = []
        buffered, self._receive_buffer = self._receive_buffer, []
        for event in buffered:
            self._track_offset(event)
            events.append(event)
        events.append(Connected(sid, self.recovered))
        return events

    def _on_event(self, packet: Packet) -> list[NamespaceEvent]:
        data = packet.data
        assert isinstance(data, list)  # the decoders check EVENT packets
        name = data[0]
        assert isinstance(name, str)
        if name in RESERVED_EVENTS:
            return [ProtocolViolation(f"reserved event name {name!r}")]
        event = EventReceived(name, data[1:], packet.id)
        if self.state is NamespaceState.CONNECTING:
            if len(self._receive_buffer) >= self.max_receive_buffer:
                return [ProtocolViolation("too many events before the CONNECT reply")]
            self._receive_buffer.append(event)
            return []
        self._track_offset(event)
        return [event]

    def _track_offset(self, event: EventReceived) -> None:
        # JS emitEvent: with recovery on, the last argument of an event without ack is the
        # offset the server stored it under (the ack callback is last for the others).
        args = event.args
        if self.pid is not None and event.ack_id is None and args and isinstance(args[-1], str):
            self.last_offset = args[-1]

    def _reset(self) -> None:
        self.state = NamespaceState.DISCONNECTED
        self.sid = None
        self._receive_buffer = []


__all__ = [
    "DEFAULT_MAX_RECEIVE_BUFFER",
    "V2_SERVER_MESSAGE",
    "AckReceived",
    "ClientNamespace",
    "ConnectRefused",
    "Connected",
    "DisconnectedByServer",
    "EventReceived",
    "NamespaceEvent",
    "NamespaceState",
    "ProtocolViolation",
]
