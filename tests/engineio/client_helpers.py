"""Helpers for the Engine.IO client core tests: sessions in a known state.

Time is always an explicit float (seconds); nothing here sleeps or opens a socket.
"""

from __future__ import annotations

import json
from typing import Any

from socketeer.engineio import CloseReason, SessionClosed, Transport
from socketeer.engineio.client import ClientConfig, ClientSession, Opened

SID = "lv_VI97HAXpY6yYWAAAC"
SEP = "\x1e"


def handshake(**overrides: Any) -> str:
    """An open packet as the JS server sends it (25 s / 20 s, 1e6 bytes), with overrides."""
    data: dict[str, Any] = {
        "sid": SID,
        "upgrades": ["websocket"],
        "pingInterval": 25000,
        "pingTimeout": 20000,
        "maxPayload": 1000000,
    }
    data.update(overrides)
    return "0" + json.dumps(data, separators=(",", ":"))


def opened(
    transport: Transport = Transport.POLLING, *, now: float = 0.0, **options: Any
) -> ClientSession:
    """A session whose handshake arrived at ``now`` (its ``Opened`` event taken)."""
    hs = options.pop("handshake_data", {})
    session = ClientSession(ClientConfig(**options), transport, now)
    if transport is Transport.POLLING:
        assert session.begin_poll()
        session.receive_poll(handshake(**hs), now)
    else:
        session.receive_ws(handshake(**hs), now)
    (event,) = session.events_received()
    assert isinstance(event, Opened)
    return session


def upgraded(*, now: float = 0.0, **options: Any) -> ClientSession:
    """A polling session upgraded to WebSocket (the ``5`` taken)."""
    session = opened(now=now, **options)
    assert session.begin_poll()
    assert session.start_probe()
    assert session.probe_messages() == ["2probe"]
    session.receive_probe("3probe", now)
    session.receive_poll("6", now)  # the server ends the pending poll with a noop
    assert session.transport is Transport.WEBSOCKET
    assert session.ws_messages() == ["5"]
    session.events_received()
    return session


def assert_closed(session: ClientSession, reason: CloseReason) -> SessionClosed:
    """The session closed with ``reason``: that is its last event."""
    assert session.closed
    events = session.events_received()
    assert events, "no event"
    last = events[-1]
    assert isinstance(last, SessionClosed), events
    assert last.reason is reason, last
    return last
