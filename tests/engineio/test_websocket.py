"""engine.io-protocol, *Transports > WebSocket*: WebSocket-only sessions, one packet a frame."""

from __future__ import annotations

import pytest

from socketeer.engineio import (
    CloseReason,
    ErrorCode,
    MessageReceived,
    SessionClosed,
    SessionState,
    Transport,
)

from .helpers import (
    assert_closed,
    assert_error,
    assert_open,
    assert_silent,
    new_session,
    poll,
    upgrade,
)


class TestMessages:
    def test_text_in_and_out(self) -> None:
        # test-suite.js, message > WebSocket: "sends and receives a plain text packet".
        session = new_session(Transport.WEBSOCKET)
        session.receive_ws("4hello", 1.0)
        assert session.events_received() == [MessageReceived("hello")]
        assert session.send_message("hello")
        assert session.ws_messages_to_send() == ["4hello"]

    def test_binary_raw_frames_in_and_out(self) -> None:
        # test-suite.js: binary frames carry the bytes as is (no type byte in v4).
        session = new_session(Transport.WEBSOCKET)
        session.receive_ws(b"\x01\x02\x03\x04", 1.0)
        assert session.events_received() == [MessageReceived(b"\x01\x02\x03\x04")]
        assert session.send_message(b"\x01\x02\x03\x04")
        assert session.ws_messages_to_send() == [b"\x01\x02\x03\x04"]

    def test_messages_are_not_concatenated(self) -> None:
        session = new_session(Transport.WEBSOCKET)
        for data in ("hello", "world", b"", ""):
            assert session.send_message(data)
        assert session.ws_messages_to_send() == ["4hello", "4world", b"", "4"]
        assert session.ws_messages_to_send() == []

    def test_text_frames_are_not_payloads(self) -> None:
        session = new_session(Transport.WEBSOCKET)
        session.receive_ws("4a\x1e4b", 1.0)
        assert session.events_received() == [MessageReceived("a\x1e4b")]

    def test_base64_text_frame_is_a_binary_message(self) -> None:
        session = new_session(Transport.WEBSOCKET)
        session.receive_ws("bAQIDBA==", 1.0)
        assert session.events_received() == [MessageReceived(b"\x01\x02\x03\x04")]

    @pytest.mark.parametrize("frame", ["0", "5", "6", "3probe"])
    def test_other_packets_are_ignored(self, frame: str) -> None:
        session = new_session(Transport.WEBSOCKET)
        session.receive_ws(frame, 1.0)
        assert_open(session)
        assert session.ws_messages_to_send() == []

    def test_writable(self) -> None:
        session = new_session(Transport.WEBSOCKET)
        assert session.writable
        assert not session.poll_pending

    def test_no_polling_output(self) -> None:
        session = new_session(Transport.WEBSOCKET)
        assert session.send_message("x")
        assert session.poll_response() is None
        assert session.ws_messages_to_send() == ["4x"]

    def test_no_upgrade(self) -> None:
        session = new_session(Transport.WEBSOCKET)
        assert_error(session.begin_upgrade(0.0), ErrorCode.BAD_REQUEST)


class TestClose:
    def test_client_close_packet(self) -> None:
        # test-suite.js, close > WebSocket: "1" closes the session.
        session = new_session(Transport.WEBSOCKET)
        assert session.send_message("dropped")
        session.receive_ws("1", 1.0)
        (event,) = assert_closed(session, CloseReason.TRANSPORT_CLOSE)
        assert event == SessionClosed(CloseReason.TRANSPORT_CLOSE, "closed by the client")
        assert session.ws_messages_to_send() == []

    @pytest.mark.parametrize(
        "frame",
        [
            pytest.param("abc", id="garbage"),
            pytest.param("", id="empty"),
            pytest.param("7", id="unknown-type"),
            pytest.param("bAQIDBA=", id="truncated-base64"),
        ],
    )
    def test_parse_error(self, frame: str) -> None:
        # test-suite.js: "closes the session upon invalid packet format".
        session = new_session(Transport.WEBSOCKET)
        assert session.send_message("dropped")
        session.receive_ws(frame, 1.0)
        assert_closed(session, CloseReason.PARSE_ERROR)
        assert session.ws_messages_to_send() == []

    def test_websocket_closed(self) -> None:
        session = new_session(Transport.WEBSOCKET)
        session.ws_closed(1.0)
        (event,) = assert_closed(session, CloseReason.TRANSPORT_CLOSE)
        assert event == SessionClosed(CloseReason.TRANSPORT_CLOSE, "websocket closed")

    def test_websocket_error(self) -> None:
        session = new_session(Transport.WEBSOCKET)
        session.ws_error(1.0, "message too big")
        (event,) = assert_closed(session, CloseReason.TRANSPORT_ERROR)
        assert event == SessionClosed(CloseReason.TRANSPORT_ERROR, "message too big")

    def test_frames_after_close_are_ignored(self) -> None:
        session = new_session(Transport.WEBSOCKET)
        session.receive_ws("1", 1.0)
        assert_closed(session, CloseReason.TRANSPORT_CLOSE)
        session.receive_ws("4late", 2.0)
        session.receive_ws(b"late", 2.0)
        session.receive_ws("abc", 2.0)
        session.ws_closed(2.0)
        session.ws_error(2.0, "late")
        session.handle_timer(100.0)
        assert_silent(session)
        assert session.state is SessionState.CLOSED

    def test_upgraded_session_closes_like_a_websocket_one(self) -> None:
        session = new_session()
        upgrade(session)
        session.ws_closed(1.0)
        assert_closed(session, CloseReason.TRANSPORT_CLOSE)
        assert session.poll_response() is None

    def test_polling_session_ignores_websocket_callbacks(self) -> None:
        session = new_session()
        session.receive_ws("4x", 1.0)
        session.ws_closed(1.0)
        session.ws_error(1.0, "x")
        assert_open(session)
        assert session.transport is Transport.POLLING


class TestDirectPath:
    """``direct``: when a runtime may bypass the machine for plain messages."""

    def test_open_websocket_with_nothing_queued(self) -> None:
        session = new_session(Transport.WEBSOCKET)
        session.ws_messages_to_send()
        assert session.direct
        assert session.send_message("queued")
        assert not session.direct  # a queued message must go first, in order
        assert session.ws_messages_to_send() == ["4queued"]
        assert session.direct
        session.handle_timer(25.0)  # a ping is queued: everything goes through the queue
        assert not session.direct
        session.ws_messages_to_send()
        assert session.direct
        session.close(26.0)
        assert not session.direct

    def test_never_on_polling(self) -> None:
        session = new_session()
        poll(session)
        assert not session.direct
