"""Helpers for the Engine.IO core tests: sessions in a known state, and short assertions.

Time is always an explicit float (seconds); nothing here sleeps or opens a socket.
"""

from __future__ import annotations

from typing import Any

from socketeer._types import SessionId
from socketeer.engineio import (
    CloseReason,
    EngineConfig,
    EngineError,
    ErrorCode,
    Event,
    ServerSession,
    SessionClosed,
    SessionState,
    Transport,
    UpgradeCompleted,
)

SID = SessionId("lv_VI97HAXpY6yYWAAAC")
"""The session id of the protocol README's samples."""

SEP = "\x1e"
"""The record separator of polling payloads."""


def config(**options: Any) -> EngineConfig:
    """An ``EngineConfig`` with the given options (the JS defaults otherwise)."""
    return EngineConfig(**options)


def new_session(
    transport: Transport = Transport.POLLING,
    *,
    now: float = 0.0,
    handshake: bool = True,
    **options: Any,
) -> ServerSession:
    """A fresh session; with ``handshake`` the open packet has already been delivered."""
    session = ServerSession(SID, config(**options), transport, now)
    if handshake:
        if transport is Transport.POLLING:
            body = poll(session, now)
            assert body is not None
            assert body.startswith("0{")
        else:
            (frame,) = session.ws_messages_to_send()
            assert isinstance(frame, str)
            assert frame.startswith("0{")
    return session


def poll(session: ServerSession, now: float = 0.0) -> str | None:
    """A GET arrives: the body answered at once, or None when the GET stays pending."""
    assert session.begin_poll(now) is None
    return session.poll_response()


def post(session: ServerSession, body: str | bytes, now: float = 0.0) -> EngineError | None:
    """A whole POST arrives; None means the server answers ``ok``."""
    assert session.begin_post(now) is None
    raw = body.encode("utf-8") if isinstance(body, str) else body
    return session.receive_post(raw, now)


def probe(session: ServerSession, now: float = 0.0) -> None:
    """A WebSocket joins the polling session and sends ``2probe``; the server answers."""
    assert session.begin_upgrade(now) is None
    assert session.state is SessionState.PROBING
    session.receive_ws("2probe", now)
    assert session.ws_messages_to_send() == ["3probe"]
    assert session.state is SessionState.UPGRADING


def upgrade(session: ServerSession, now: float = 0.0) -> None:
    """The whole upgrade: probe, then ``5``; the session is on WebSocket afterwards."""
    probe(session, now)
    session.receive_ws("5", now)
    assert session.state is SessionState.OPEN
    assert session.transport is Transport.WEBSOCKET
    assert session.events_received() == [UpgradeCompleted()]


def assert_error(result: object, code: ErrorCode, status: int = 400) -> None:
    """``result`` is the refusal with ``code``, its official message and HTTP status."""
    assert isinstance(result, EngineError), result
    assert result.code is code
    assert result.status == status


def assert_open(session: ServerSession) -> None:
    """The session is still usable and reported nothing about closing."""
    assert not session.closed
    assert session.state is not SessionState.CLOSED
    assert not [e for e in session.events_received() if isinstance(e, SessionClosed)]


def assert_closed(session: ServerSession, reason: CloseReason) -> list[Event]:
    """The session is CLOSED, reported exactly one ``SessionClosed(reason)``, last.

    Returns the events taken (``SessionClosed`` included) for further checks.
    """
    events = session.events_received()
    closes = [e for e in events if isinstance(e, SessionClosed)]
    assert len(closes) == 1, events
    assert events[-1] is closes[0], events
    assert closes[0].reason is reason, closes[0]
    assert session.closed
    assert session.state is SessionState.CLOSED
    assert session.next_deadline() is None
    assert not session.writable
    return events


def assert_silent(session: ServerSession) -> None:
    """The session has nothing more to report."""
    events = session.events_received()
    assert events == [], events


def payload(*parts: str) -> str:
    """Packets joined with the record separator."""
    return SEP.join(parts)
