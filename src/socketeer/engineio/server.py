"""One Engine.IO v4 session on the server side, sans-I/O.

The runtime feeds what arrives (polling requests, WebSocket messages, the passing of time)
and takes what to send. The session never reads a clock: every input takes ``now``, and
``next_deadline()`` says when ``handle_timer(now)`` must be called next.

States (``SessionState``), with the current transport alongside:

- ``OPEN``: messages flow over the current transport (polling or WebSocket).
- ``PROBING``: a WebSocket joined a polling session; we wait for its ``2probe``.
- ``UPGRADING``: we answered ``3probe``; polls get ``6`` (noop) until the ``5`` (upgrade)
  arrives on the WebSocket. Outgoing messages are held meanwhile and flushed over the
  WebSocket once the upgrade completes (or over polling again if it is aborted).
- ``CLOSING``: the server closed a polling session; the next poll carries what is left and
  the close packet.
- ``CLOSED``: over; ``SessionClosed`` has been reported once.

Peer input never raises out of this class: a violation closes the session with a reason.
"""

from __future__ import annotations

import json
from enum import Enum

from .._types import SessionId
from ..exceptions import RemoteProtocolError
from .config import EngineConfig, Transport
from .events import (
    CloseReason,
    Event,
    MessageReceived,
    SessionClosed,
    UpgradeAborted,
    UpgradeCompleted,
)
from .packets import (
    CLOSE,
    NOOP,
    PING,
    PONG_PROBE,
    Packet,
    PacketType,
    decode_packet,
    encode_packet,
)
from .payload import decode_payload, encode_payload
from .requests import EngineError, EngineRequest, ErrorCode


class SessionState(Enum):
    """Where a session is in its life; see the module docstring."""

    OPEN = "open"
    PROBING = "probing"
    UPGRADING = "upgrading"
    CLOSING = "closing"
    CLOSED = "closed"


_UPGRADE_STATES = (SessionState.PROBING, SessionState.UPGRADING)


class ServerSession:
    """The state machine of one Engine.IO session (the JS ``Socket``)."""

    __slots__ = (
        "_close_deadline",
        "_close_now",
        "_close_reason",
        "_events",
        "_next_ping",
        "_outbox",
        "_poll_pending",
        "_pong_deadline",
        "_post_pending",
        "_probe_outbox",
        "_upgrade_deadline",
        "config",
        "sid",
        "state",
        "transport",
    )

    def __init__(
        self, sid: SessionId, config: EngineConfig, transport: Transport, now: float
    ) -> None:
        self.sid = sid
        self.config = config
        self.transport = transport
        self.state = SessionState.OPEN
        handshake = {
            "sid": sid,
            "upgrades": config.upgrades_for(transport),
            # engine.io-protocol, *Handshake*: integer milliseconds.
            "pingInterval": round(config.ping_interval * 1000),
            "pingTimeout": round(config.ping_timeout * 1000),
            "maxPayload": config.max_http_buffer_size,
        }
        self._outbox: list[Packet] = [
            Packet(PacketType.OPEN, json.dumps(handshake, separators=(",", ":")))
        ]
        self._probe_outbox: list[Packet] = []
        self._events: list[Event] = []
        self._poll_pending = False
        self._post_pending = False
        self._next_ping: float | None = now + config.ping_interval
        self._pong_deadline: float | None = None
        self._upgrade_deadline: float | None = None
        self._close_deadline: float | None = None
        self._close_reason = CloseReason.FORCED_CLOSE
        self._close_now = False

    # -- what the runtime reads ------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """Whether the session is over."""
        return self.state is SessionState.CLOSED

    @property
    def direct(self) -> bool:
        """Whether plain messages may skip this machine: the session is open on WebSocket
        and nothing is queued, so a runtime may write an encoded MESSAGE straight to the
        socket and hand a received one straight to its reader (the hot path). Everything
        else (heartbeats, upgrades, closing) still goes through the methods below.
        """
        return (
            self.state is SessionState.OPEN
            and self.transport is Transport.WEBSOCKET
            and not self._outbox
        )

    @property
    def poll_pending(self) -> bool:
        """Whether a polling GET is waiting for an answer."""
        return self._poll_pending

    @property
    def post_pending(self) -> bool:
        """Whether a polling POST is being read."""
        return self._post_pending

    def events_received(self) -> list[Event]:
        """Take the events reported since the last call."""
        events, self._events = self._events, []
        return events

    def next_deadline(self) -> float | None:
        """When ``handle_timer`` must run next, or None."""
        earliest = self._next_ping
        for deadline in (self._pong_deadline, self._upgrade_deadline, self._close_deadline):
            if deadline is not None and (earliest is None or deadline < earliest):
                earliest = deadline
        return earliest

    # -- commands --------------------------------------------------------------------------

    def send_message(self, data: str | bytes) -> bool:
        """Queue a message for the peer; False (dropped) when the session is closing."""
        if self.state is SessionState.CLOSING or self.state is SessionState.CLOSED:
            return False
        self._outbox.append(Packet(PacketType.MESSAGE, data))
        return True

    @property
    def writable(self) -> bool:
        """Whether a message sent now goes out at once (used for volatile messages)."""
        if self.state is SessionState.OPEN:
            return self.transport is Transport.WEBSOCKET or self._poll_pending
        return self.state is SessionState.PROBING and self._poll_pending

    def close(
        self,
        now: float,
        reason: CloseReason = CloseReason.FORCED_CLOSE,
        *,
        wait_for_poll: bool = True,
    ) -> None:
        """Close from the server side; queued messages are delivered first.

        On polling, the close packet rides on the pending poll, or on the next one within
        ``close_timeout``; with ``wait_for_poll=False`` (shutdown) the session ends at once
        when no poll is pending.
        """
        if self.state is SessionState.CLOSING or self.state is SessionState.CLOSED:
            return
        self._abort_upgrade("session closed")
        if self.transport is Transport.WEBSOCKET or not (wait_for_poll or self._poll_pending):
            # The JS server sends no close packet on WebSocket: it flushes, then closes.
            self._finish(reason, "closed by the server")
            return
        self.state = SessionState.CLOSING
        self._close_reason = reason
        self._close_now = not wait_for_poll
        self._next_ping = self._pong_deadline = None
        self._close_deadline = now + self.config.close_timeout

    def handle_timer(self, now: float) -> None:
        """Act on every deadline that has passed."""
        if self._close_deadline is not None and now >= self._close_deadline:
            self._finish(self._close_reason, "the client did not poll for the close packet")
            return
        if self._upgrade_deadline is not None and now >= self._upgrade_deadline:
            self._abort_upgrade("upgrade timeout")
        if self._pong_deadline is not None and now >= self._pong_deadline:
            self._fail(CloseReason.PING_TIMEOUT, "no pong in time")
            return
        if self._next_ping is not None and now >= self._next_ping:
            self._outbox.append(PING)
            self._next_ping = None
            self._pong_deadline = now + self.config.ping_timeout

    # -- polling ---------------------------------------------------------------------------

    def begin_poll(self, now: float) -> EngineError | None:
        """A GET arrived. A second concurrent GET closes the session (JS: "overlap")."""
        if self._poll_pending:
            self._fail(CloseReason.TRANSPORT_ERROR, "overlap from client")
            return EngineError.of(ErrorCode.BAD_REQUEST, "concurrent poll")
        self._poll_pending = True
        return None

    def poll_response(self) -> str | None:
        """The body for the pending GET, or None to keep it waiting."""
        if not self._poll_pending:
            return None
        if self.state is SessionState.CLOSING:
            # Like the JS server, drain what is queued first and send the close packet in a
            # poll of its own: the JS client handles a close packet at once but decoded
            # Socket.IO packets on the next tick, so in one payload the close would win.
            # At shutdown (close_now) there is no next poll to wait for.
            if not self._outbox or self._close_now:
                self._outbox.append(CLOSE)
                self._finish(self._close_reason, "closed by the server")
        elif self.state is SessionState.CLOSED:
            if not self._outbox:
                self._outbox = [CLOSE]
        elif self.state is SessionState.UPGRADING or self.transport is Transport.WEBSOCKET:
            # engine.io-protocol, *Upgrade*: a noop cleanly ends the pending poll.
            self._poll_pending = False
            return encode_payload((NOOP,))
        elif not self._outbox:
            return None
        self._poll_pending = False
        body = encode_payload(self._outbox)
        self._outbox = []
        return body

    def abort_poll(self, now: float) -> None:
        """The pending GET's connection went away before it was answered."""
        if self._poll_pending:
            self._poll_pending = False
            self._fail(CloseReason.TRANSPORT_ERROR, "poll connection closed prematurely")

    def begin_post(self, now: float) -> EngineError | None:
        """A POST arrived. A second concurrent POST closes the session (JS: "overlap")."""
        if self._post_pending:
            self._fail(CloseReason.TRANSPORT_ERROR, "data request overlap from client")
            return EngineError.of(ErrorCode.BAD_REQUEST, "concurrent post")
        self._post_pending = True
        return None

    def abort_post(self, now: float, description: str) -> None:
        """The POST body could not be read whole (too large, connection lost)."""
        self._post_pending = False
        self._fail(CloseReason.TRANSPORT_ERROR, description)

    def receive_post(self, body: bytes, now: float) -> EngineError | None:
        """The whole POST body; None means answer ``ok``."""
        self._post_pending = False
        try:
            packets = decode_payload(
                body.decode("utf-8"), max_packets=self.config.max_payload_packets
            )
        except (UnicodeDecodeError, RemoteProtocolError) as exc:
            self._fail(CloseReason.PARSE_ERROR, str(exc))
            return EngineError.of(ErrorCode.BAD_REQUEST, str(exc))
        for packet in packets:
            self._handle_packet(packet, now)
            if self.state is SessionState.CLOSED:
                break
        return None

    # -- WebSocket -------------------------------------------------------------------------

    def begin_upgrade(self, now: float) -> EngineError | None:
        """A WebSocket arrived for this polling session; it becomes the probe."""
        if (
            self.state is not SessionState.OPEN
            or self.transport is not Transport.POLLING
            or not self.config.allow_upgrades
        ):
            return EngineError.of(ErrorCode.BAD_REQUEST, f"cannot upgrade a {self.state.value}")
        self.state = SessionState.PROBING
        self._upgrade_deadline = now + self.config.upgrade_timeout
        return None

    def receive_ws(self, data: str | bytes, now: float) -> None:
        """A message arrived on this session's WebSocket (the probe, or the transport)."""
        if self.state in _UPGRADE_STATES:
            self._receive_probe(data)
            return
        if self.transport is not Transport.WEBSOCKET or self.state is not SessionState.OPEN:
            return
        try:
            packet = decode_packet(data)
        except RemoteProtocolError as exc:
            self._fail(CloseReason.PARSE_ERROR, str(exc))
            return
        self._handle_packet(packet, now)

    def ws_messages_to_send(self) -> list[str | bytes]:
        """Take the WebSocket messages to write (probe answers, or the outbox)."""
        if self.state in _UPGRADE_STATES:
            packets, self._probe_outbox = self._probe_outbox, []
        elif self.transport is Transport.WEBSOCKET:
            packets, self._outbox = self._outbox, []
        else:
            return []
        return [encode_packet(packet) for packet in packets]

    def ws_closed(self, now: float) -> None:
        """This session's WebSocket went away (the probe, or the transport)."""
        if self.state in _UPGRADE_STATES:
            self._abort_upgrade("probe transport closed")
        elif self.transport is Transport.WEBSOCKET:
            self._fail(CloseReason.TRANSPORT_CLOSE, "websocket closed")

    def ws_error(self, now: float, description: str) -> None:
        """This session's WebSocket failed (e.g. a message over the size limit)."""
        if self.state in _UPGRADE_STATES:
            self._abort_upgrade(description)
        elif self.transport is Transport.WEBSOCKET:
            self._fail(CloseReason.TRANSPORT_ERROR, description)

    # -- internals -------------------------------------------------------------------------

    def _receive_probe(self, data: str | bytes) -> None:
        # engine.io-protocol, *Upgrade*: 2probe -> 3probe, then 5 completes the upgrade;
        # anything else aborts it (the JS server closes the probing transport).
        if self.state is SessionState.PROBING and data == "2probe":
            self._probe_outbox.append(PONG_PROBE)
            self.state = SessionState.UPGRADING
        elif self.state is SessionState.UPGRADING and data == "5":
            self.state = SessionState.OPEN
            self.transport = Transport.WEBSOCKET
            self._upgrade_deadline = None
            self._probe_outbox = []
            self._events.append(UpgradeCompleted())
        else:
            self._abort_upgrade("unexpected packet during upgrade")

    def _abort_upgrade(self, description: str) -> None:
        if self.state in _UPGRADE_STATES:
            self.state = SessionState.OPEN
            self._upgrade_deadline = None
            self._probe_outbox = []
            self._events.append(UpgradeAborted(description))

    def _handle_packet(self, packet: Packet, now: float) -> None:
        if self.state is SessionState.CLOSED or (
            self.state is SessionState.CLOSING and packet.type is not PacketType.CLOSE
        ):
            return  # JS: "packet received with closed socket"
        match packet.type:
            case PacketType.MESSAGE:
                self._events.append(MessageReceived(packet.data))
            case PacketType.PONG:
                self._pong_deadline = None
                self._next_ping = now + self.config.ping_interval
            case PacketType.PING:
                # In v4 only the server pings.
                self._fail(CloseReason.TRANSPORT_ERROR, "invalid heartbeat direction")
            case PacketType.CLOSE:
                self._fail(CloseReason.TRANSPORT_CLOSE, "closed by the client", final=NOOP)
            case _:
                pass  # open, upgrade and noop on an open transport: ignored, as in JS

    def _fail(self, reason: CloseReason, description: str, final: Packet = CLOSE) -> None:
        """Close because of the peer or the transport: queued messages are dropped."""
        if self.state is SessionState.CLOSED:
            return
        self._outbox = [final] if self.transport is Transport.POLLING else []
        self._finish(reason, description)

    def _finish(self, reason: CloseReason, description: str) -> None:
        self._abort_upgrade(description)
        self.state = SessionState.CLOSED
        self._next_ping = self._pong_deadline = self._close_deadline = None
        self._events.append(SessionClosed(reason, description))


def check_session(request: EngineRequest, session: ServerSession | None) -> EngineError | None:
    """The checks of a request for an existing session (codes 1 and 3)."""
    if session is None or session.closed:
        return EngineError.of(ErrorCode.UNKNOWN_SID, f"sid {request.sid!r}")
    if not request.websocket and session.transport is not Transport.POLLING:
        # engine.io-protocol, *Upgrade*: polling requests are refused after an upgrade.
        return EngineError.of(ErrorCode.BAD_REQUEST, "polling request after upgrade")
    return None


__all__ = ["ServerSession", "SessionState", "check_session"]
