"""One Engine.IO v4 session on the client side, sans-I/O (the JS engine.io-client ``Socket``).

The runtime opens the transports and feeds what arrives (polling responses, WebSocket
messages, the passing of time); it takes what to send. The session never reads a clock:
every input takes ``now``, and ``next_deadline()`` says when ``handle_timer(now)`` must be
called next (one deadline: the server's next ping is overdue).

States (``ClientState``), with the current transport alongside:

- ``OPENING``: the first request (a GET without ``sid``, or a WebSocket) is out; the first
  packet must be the handshake (``0{"sid":...}``).
- ``OPEN``: messages flow. On polling the runtime keeps one GET pending (``begin_poll``)
  and at most one POST in flight (``take_post``).
- ``CLOSED``: over; ``SessionClosed`` has been reported once. After a local ``close()`` the
  last packets (and, on polling, the close packet) can still be taken and sent.

Upgrade, from the client side (engine.io-protocol, *Upgrade*): when the handshake offers
``websocket``, ``start_probe()`` asks the runtime to open a WebSocket with the session id
and send it ``2probe``. On ``3probe`` the session *pauses* polling: no new GET or POST
starts, and once the pending ones are over the transport switches to WebSocket, whose
first message is ``5`` (upgrade), followed by whatever was queued meanwhile. Any other
answer aborts the probe (``UpgradeAborted``) and polling goes on.

Heartbeat: in v4 only the server pings. Each ``2`` is answered with ``3``; a server that
sends no ping within ``pingInterval + pingTimeout`` of the last one (or of the handshake)
is dead: the session closes with "ping timeout".

Peer input never raises out of this class: a violation closes the session with a reason
("parse error" for undecodable data or a bad handshake).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, TypeGuard

from .._types import SessionId
from ..exceptions import RemoteProtocolError
from .config import Transport
from .events import (
    CloseReason,
    MessageReceived,
    SessionClosed,
    UpgradeAborted,
    UpgradeCompleted,
)
from .packets import (
    CLOSE,
    PING_PROBE,
    PONG,
    UPGRADE,
    Packet,
    PacketType,
    decode_packet,
    encode_packet,
    encode_packet_text,
)
from .payload import SEPARATOR, decode_payload


class ClientState(Enum):
    """Where a client session is in its life; see the module docstring."""

    OPENING = "opening"
    OPEN = "open"
    CLOSED = "closed"


class _Probe(Enum):
    NONE = "none"
    PROBING = "probing"  # 2probe sent (or about to be), waiting for 3probe
    PAUSING = "pausing"  # 3probe received, waiting for the pending poll / post to end


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientConfig:
    """Options of one client session.

    Attributes:
        transports: the transports the client may use (upgrades to others are ignored).
        upgrade: whether to upgrade from polling to WebSocket when the server offers it.
        max_payload_packets: the most packets accepted in one polling response.
    """

    transports: tuple[Transport, ...] = field(
        default=(Transport.POLLING, Transport.WEBSOCKET),
    )
    upgrade: bool = True
    max_payload_packets: int = 10_000

    def __post_init__(self) -> None:
        if not self.transports:
            raise ValueError("at least one transport is needed")
        if self.max_payload_packets < 1:
            raise ValueError("max_payload_packets must be at least 1")
        object.__setattr__(self, "transports", tuple(Transport(t) for t in self.transports))


@dataclass(frozen=True, slots=True)
class Handshake:
    """What the server said in its open packet (durations in seconds)."""

    sid: SessionId
    upgrades: tuple[Transport, ...]
    ping_interval: float
    ping_timeout: float
    max_payload: int


@dataclass(frozen=True, slots=True)
class Opened:
    """The handshake arrived: the session is open."""

    handshake: Handshake


@dataclass(frozen=True, slots=True)
class PingReceived:
    """The server pinged (and was answered); the JS client emits ``ping``."""


ClientEvent = (
    Opened | MessageReceived | PingReceived | UpgradeCompleted | UpgradeAborted | SessionClosed
)

_TRANSPORT_BY_NAME = {t.value: t for t in Transport}
_MAX_NUMBER = 2**53  # also refuses Infinity and NaN, which Python's json accepts


def parse_handshake(data: str) -> Handshake:
    """Parse the data of an open packet; raise ``RemoteProtocolError`` when it is invalid.

    engine.io-protocol, *Handshake*: ``sid`` (string), ``upgrades`` (array of transport
    names), ``pingInterval`` / ``pingTimeout`` (integer milliseconds) and ``maxPayload``.
    Unknown upgrade names are skipped, as the JS client filters them.
    """
    try:
        value: Any = json.loads(data)
    except ValueError:
        raise RemoteProtocolError("handshake is not JSON") from None
    if not isinstance(value, dict):
        raise RemoteProtocolError("handshake is not an object")
    sid = value.get("sid")
    if not isinstance(sid, str) or not sid:
        raise RemoteProtocolError("handshake without a sid")
    upgrades = value.get("upgrades", [])
    if not isinstance(upgrades, list) or not all(isinstance(u, str) for u in upgrades):
        raise RemoteProtocolError("handshake upgrades must be a list of names")
    durations = []
    for key in ("pingInterval", "pingTimeout"):
        number = value.get(key)
        if not _is_number(number) or not 0 < number < _MAX_NUMBER:
            raise RemoteProtocolError(f"handshake {key} must be a positive number")
        durations.append(number / 1000)
    max_payload = value.get("maxPayload", 0)
    if not _is_number(max_payload) or not 0 <= max_payload < _MAX_NUMBER:
        raise RemoteProtocolError("handshake maxPayload must be a non-negative number")
    return Handshake(
        sid=SessionId(sid),
        upgrades=tuple(_TRANSPORT_BY_NAME[u] for u in upgrades if u in _TRANSPORT_BY_NAME),
        ping_interval=durations[0],
        ping_timeout=durations[1],
        max_payload=int(max_payload),
    )


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


class ClientSession:
    """The state machine of one Engine.IO client session."""

    __slots__ = (
        "_events",
        "_outbox",
        "_ping_deadline",
        "_poll_pending",
        "_post_pending",
        "_probe",
        "_probe_outbox",
        "_probe_tried",
        "config",
        "handshake",
        "state",
        "transport",
    )

    def __init__(self, config: ClientConfig, transport: Transport, now: float) -> None:
        self.config = config
        self.transport = transport
        self.state = ClientState.OPENING
        self.handshake: Handshake | None = None
        self._outbox: list[Packet] = []
        self._probe_outbox: list[Packet] = []
        self._events: list[ClientEvent] = []
        self._probe = _Probe.NONE
        self._probe_tried = False
        self._poll_pending = False
        self._post_pending = False
        self._ping_deadline: float | None = None

    # -- what the runtime reads ------------------------------------------------------------

    @property
    def sid(self) -> SessionId | None:
        """The session id, once the handshake arrived."""
        return None if self.handshake is None else self.handshake.sid

    @property
    def closed(self) -> bool:
        """Whether the session is over."""
        return self.state is ClientState.CLOSED

    @property
    def upgrading(self) -> bool:
        """Whether a WebSocket probe is under way."""
        return self._probe is not _Probe.NONE

    @property
    def writable(self) -> bool:
        """Whether a message sent now goes out at once (used for volatile messages).

        Like the JS transports: not while a POST is in flight, nor while polling pauses.
        """
        if self.state is not ClientState.OPEN or self._probe is _Probe.PAUSING:
            return False
        return self.transport is Transport.WEBSOCKET or not self._post_pending

    def events_received(self) -> list[ClientEvent]:
        """Take the events reported since the last call."""
        events, self._events = self._events, []
        return events

    def next_deadline(self) -> float | None:
        """When ``handle_timer`` must run next, or None."""
        return self._ping_deadline

    # -- commands --------------------------------------------------------------------------

    def send_message(self, data: str | bytes) -> bool:
        """Queue a message for the server; False (dropped) when the session is closed.

        Messages queued before the handshake go out once the session is open.
        """
        if self.state is ClientState.CLOSED:
            return False
        self._outbox.append(Packet(PacketType.MESSAGE, data))
        return True

    def close(self, now: float, reason: CloseReason = CloseReason.FORCED_CLOSE) -> None:
        """Close from the client side; queued messages are still delivered.

        On polling the close packet follows them in the last POST (JS ``doClose``); on
        WebSocket the runtime sends what is left, then closes the WebSocket.
        """
        if self.state is ClientState.CLOSED:
            return
        if self.state is ClientState.OPENING:
            self._outbox = []
        elif self.transport is Transport.POLLING:
            self._outbox.append(CLOSE)
        self._finish(reason, "closed by the client")

    def handle_timer(self, now: float) -> None:
        """Act on the deadline if it has passed: no ping in time means a dead server."""
        if self._ping_deadline is not None and now >= self._ping_deadline:
            self._fail(CloseReason.PING_TIMEOUT, "no ping from the server in time")

    # -- polling ---------------------------------------------------------------------------

    @property
    def poll_pending(self) -> bool:
        """Whether a polling GET is out."""
        return self._poll_pending

    @property
    def post_pending(self) -> bool:
        """Whether a polling POST is out."""
        return self._post_pending

    def begin_poll(self) -> bool:
        """Whether a GET should start now; if so it counts as pending until answered.

        The first GET of a polling session is the handshake request.
        """
        if (
            self._poll_pending
            or self.state is ClientState.CLOSED
            or self.transport is not Transport.POLLING
            or self._probe is _Probe.PAUSING
        ):
            return False
        self._poll_pending = True
        return True

    def receive_poll(self, body: str, now: float) -> None:
        """The body of the pending GET."""
        self._poll_pending = False
        if self.state is ClientState.CLOSED:
            return
        try:
            packets = decode_payload(body, max_packets=self.config.max_payload_packets)
        except RemoteProtocolError as exc:
            self._fail(CloseReason.PARSE_ERROR, str(exc))
            return
        for packet in packets:
            self._handle_packet(packet, now)
            if self.closed:
                return
        self._check_paused()

    def poll_failed(self, now: float, description: str) -> None:
        """The pending GET failed (connection lost, an HTTP error status...)."""
        self._poll_pending = False
        self._fail(CloseReason.TRANSPORT_ERROR, description)

    def take_post(self) -> str | None:
        """The body of the next POST, or None when nothing is to be sent now.

        One POST at a time; when the handshake announced ``maxPayload``, several packets
        are split over several POSTs so that each stays under it (JS
        ``_getWritablePackets``). A single larger packet still goes alone.
        """
        if (
            self._post_pending
            or not self._outbox
            or self.transport is not Transport.POLLING
            or self.state is ClientState.OPENING
            or self._probe is _Probe.PAUSING
        ):
            return None
        encoded = [encode_packet_text(packet) for packet in self._outbox]
        count = len(encoded)
        limit = self.handshake.max_payload if self.handshake is not None else 0
        if limit:
            size = len(encoded[0].encode("utf-8"))
            for index in range(1, count):
                size += 1 + len(encoded[index].encode("utf-8"))
                if size > limit:
                    count = index
                    break
        del self._outbox[:count]
        self._post_pending = True
        return SEPARATOR.join(encoded[:count])

    def post_done(self, now: float) -> None:
        """The POST was answered ``ok``."""
        self._post_pending = False
        self._check_paused()

    def post_failed(self, now: float, description: str) -> None:
        """The POST failed (connection lost, an HTTP error status...)."""
        self._post_pending = False
        self._fail(CloseReason.TRANSPORT_ERROR, description)

    # -- WebSocket -------------------------------------------------------------------------

    def receive_ws(self, data: str | bytes, now: float) -> None:
        """A message arrived on the session's WebSocket transport (not on the probe)."""
        if self.state is ClientState.CLOSED or self.transport is not Transport.WEBSOCKET:
            return
        try:
            packet = decode_packet(data)
        except RemoteProtocolError as exc:
            self._fail(CloseReason.PARSE_ERROR, str(exc))
            return
        self._handle_packet(packet, now)

    def ws_messages(self) -> list[str | bytes]:
        """Take the messages to write on the WebSocket transport."""
        if self.transport is not Transport.WEBSOCKET or self.state is ClientState.OPENING:
            return []
        packets, self._outbox = self._outbox, []
        return [encode_packet(packet) for packet in packets]

    def ws_closed(self, now: float, description: str = "websocket closed") -> None:
        """The WebSocket transport closed (the server went away, or closed it)."""
        if self.transport is Transport.WEBSOCKET:
            self._fail(CloseReason.TRANSPORT_CLOSE, description)

    def ws_error(self, now: float, description: str) -> None:
        """The WebSocket transport failed (could not connect, a message too large...)."""
        if self.transport is Transport.WEBSOCKET:
            self._fail(CloseReason.TRANSPORT_ERROR, description)

    # -- upgrade ---------------------------------------------------------------------------

    def start_probe(self) -> bool:
        """Whether to probe a WebSocket now: True once per session, when polling is open,
        upgrades are on and the server offered ``websocket``.

        The runtime then opens a WebSocket with the session id and writes
        ``probe_messages()`` to it.
        """
        if (
            self._probe_tried
            or self.state is not ClientState.OPEN
            or self.transport is not Transport.POLLING
            or not self.config.upgrade
            or Transport.WEBSOCKET not in self.config.transports
            or self.handshake is None
            or Transport.WEBSOCKET not in self.handshake.upgrades
        ):
            return False
        self._probe_tried = True
        self._probe = _Probe.PROBING
        self._probe_outbox = [PING_PROBE]
        return True

    def probe_messages(self) -> list[str | bytes]:
        """Take the messages to write on the probe WebSocket (``2probe``)."""
        packets, self._probe_outbox = self._probe_outbox, []
        return [encode_packet(packet) for packet in packets]

    def receive_probe(self, data: str | bytes, now: float) -> None:
        """A message arrived on the probe WebSocket: ``3probe`` pauses polling."""
        if self._probe is not _Probe.PROBING:
            return
        if data == "3probe":
            self._probe = _Probe.PAUSING
            self._check_paused()
        else:
            self._abort_probe("probe error: unexpected answer")

    def probe_failed(self, now: float, description: str) -> None:
        """The probe WebSocket could not connect, failed or closed before the upgrade."""
        self._abort_probe(f"probe error: {description}")

    # -- internals -------------------------------------------------------------------------

    def _abort_probe(self, description: str) -> None:
        if self._probe is _Probe.NONE:
            return
        self._probe = _Probe.NONE
        self._probe_outbox = []
        self._events.append(UpgradeAborted(description))

    def _check_paused(self) -> None:
        # JS Polling.pause(): wait for the pending poll and the pending write, then upgrade.
        if self._probe is _Probe.PAUSING and not self._poll_pending and not self._post_pending:
            self._probe = _Probe.NONE
            self.transport = Transport.WEBSOCKET
            self._outbox.insert(0, UPGRADE)
            self._events.append(UpgradeCompleted())

    def _handle_packet(self, packet: Packet, now: float) -> None:
        if self.state is ClientState.OPENING:
            if packet.type is not PacketType.OPEN:
                self._fail(CloseReason.PARSE_ERROR, "the first packet is not the handshake")
                return
            assert isinstance(packet.data, str)  # only MESSAGE packets carry bytes
            try:
                self.handshake = parse_handshake(packet.data)
            except RemoteProtocolError as exc:
                self._fail(CloseReason.PARSE_ERROR, str(exc))
                return
            self.state = ClientState.OPEN
            self._reset_ping_deadline(now)
            self._events.append(Opened(self.handshake))
            return
        match packet.type:
            case PacketType.MESSAGE:
                self._events.append(MessageReceived(packet.data))
            case PacketType.PING:
                self._outbox.append(PONG)
                self._reset_ping_deadline(now)
                self._events.append(PingReceived())
            case PacketType.CLOSE:
                self._fail(CloseReason.TRANSPORT_CLOSE, "transport closed by the server")
            case _:
                pass  # open, pong, upgrade and noop once open: ignored, as in JS

    def _reset_ping_deadline(self, now: float) -> None:
        handshake = self.handshake
        assert handshake is not None
        self._ping_deadline = now + handshake.ping_interval + handshake.ping_timeout

    def _fail(self, reason: CloseReason, description: str) -> None:
        """Close because of the server or the transport: queued messages are dropped."""
        if self.state is ClientState.CLOSED:
            return
        self._outbox = []
        self._finish(reason, description)

    def _finish(self, reason: CloseReason, description: str) -> None:
        self.state = ClientState.CLOSED
        self._probe = _Probe.NONE
        self._probe_outbox = []
        self._poll_pending = False
        self._ping_deadline = None
        self._events.append(SessionClosed(reason, description))


__all__ = [
    "ClientConfig",
    "ClientEvent",
    "ClientSession",
    "ClientState",
    "Handshake",
    "Opened",
    "PingReceived",
    "parse_handshake",
]
