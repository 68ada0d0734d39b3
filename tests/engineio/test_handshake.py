"""engine.io-protocol, *Protocol > Handshake*: the open packet of a new session."""

from __future__ import annotations

import json
from typing import Any

import pytest

from socketeer.engineio import ServerSession, SessionState, Transport

from .helpers import SID, assert_silent, config, new_session, poll


def handshake_of(body: str | bytes | None) -> dict[str, Any]:
    assert isinstance(body, str)
    assert body.startswith("0{")
    assert "\x1e" not in body
    data = json.loads(body[1:])
    assert isinstance(data, dict)
    return data


class TestPollingHandshake:
    def test_first_poll_carries_the_open_packet(self) -> None:
        session = new_session(handshake=False)
        assert session.state is SessionState.OPEN
        assert session.transport is Transport.POLLING
        body = poll(session)
        assert body == (
            '0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],'
            '"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}'
        )
        assert_silent(session)

    def test_keys_in_the_js_order(self) -> None:
        data = handshake_of(poll(new_session(handshake=False)))
        assert list(data) == ["sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"]

    def test_durations_are_integer_milliseconds(self) -> None:
        # The official test suite runs the server with pingInterval 300 and pingTimeout 200.
        session = new_session(handshake=False, ping_interval=0.3, ping_timeout=0.2)
        body = poll(session)
        assert isinstance(body, str)
        assert '"pingInterval":300,"pingTimeout":200,' in body
        data = handshake_of(body)
        assert type(data["pingInterval"]) is int
        assert type(data["pingTimeout"]) is int

    @pytest.mark.parametrize(
        ("seconds", "millis"), [(0.001, 1), (1.5, 1500), (25.0, 25000), (0.1 + 0.2, 300)]
    )
    def test_rounding_to_milliseconds(self, seconds: float, millis: int) -> None:
        session = new_session(handshake=False, ping_interval=seconds, ping_timeout=seconds)
        data = handshake_of(poll(session))
        assert data["pingInterval"] == millis
        assert data["pingTimeout"] == millis

    def test_max_payload_is_the_http_buffer_size(self) -> None:
        session = new_session(handshake=False, max_http_buffer_size=12345)
        assert handshake_of(poll(session))["maxPayload"] == 12345

    def test_no_upgrades_when_disabled(self) -> None:
        session = new_session(handshake=False, allow_upgrades=False)
        assert handshake_of(poll(session))["upgrades"] == []

    def test_no_upgrades_without_websocket(self) -> None:
        session = new_session(handshake=False, transports=(Transport.POLLING,))
        assert handshake_of(poll(session))["upgrades"] == []

    def test_messages_sent_before_the_first_poll_follow_the_open_packet(self) -> None:
        session = new_session(handshake=False)
        assert session.send_message("hey")
        body = poll(session)
        assert isinstance(body, str)
        open_packet, message = body.split("\x1e")
        assert handshake_of(open_packet)["sid"] == SID
        assert message == "4hey"

    def test_next_poll_waits(self) -> None:
        session = new_session()
        assert poll(session) is None
        assert session.poll_pending

    def test_nothing_goes_out_on_websocket(self) -> None:
        session = new_session(handshake=False)
        assert session.ws_messages_to_send() == []


class TestWebSocketHandshake:
    def test_first_frame_is_the_open_packet(self) -> None:
        session = ServerSession(SID, config(), Transport.WEBSOCKET, 0.0)
        assert session.transport is Transport.WEBSOCKET
        assert session.ws_messages_to_send() == [
            '0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":[],'
            '"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}'
        ]
        assert session.ws_messages_to_send() == []
        assert_silent(session)

    def test_open_packet_then_messages_as_separate_frames(self) -> None:
        session = ServerSession(SID, config(), Transport.WEBSOCKET, 0.0)
        assert session.send_message("a")
        assert session.send_message(b"\x00")
        frames = session.ws_messages_to_send()
        assert len(frames) == 3
        assert handshake_of(frames[0])["upgrades"] == []
        assert frames[1:] == ["4a", b"\x00"]
