"""Closing from the server side, and what a closed session still accepts.

JS engine.io ``Socket.close``: on polling the close packet goes out on the next poll after
what is queued ("forced close"); on WebSocket the buffer is flushed, then the connection
closes without a close packet.
"""

from __future__ import annotations

import pytest

from socketeer.engineio import (
    CloseReason,
    MessageReceived,
    SessionClosed,
    SessionState,
    Transport,
    UpgradeAborted,
)

from .helpers import (
    assert_closed,
    assert_open,
    assert_silent,
    new_session,
    payload,
    poll,
    post,
    probe,
    upgrade,
)


class TestCloseReasons:
    def test_js_strings(self) -> None:
        assert [str(r) for r in CloseReason] == [
            "transport close",
            "transport error",
            "ping timeout",
            "parse error",
            "forced close",
            "server shutting down",
        ]


class TestServerCloseOnPolling:
    def test_with_a_pending_poll(self) -> None:
        session = new_session()
        assert poll(session, 1.0) is None
        session.close(2.0)
        assert session.state is SessionState.CLOSING
        assert_silent(session)
        assert session.poll_response() == "1"
        (event,) = assert_closed(session, CloseReason.FORCED_CLOSE)
        assert event == SessionClosed(CloseReason.FORCED_CLOSE, "closed by the server")

    def test_queued_messages_then_close(self) -> None:
        session = new_session()
        assert session.send_message("a")
        assert session.send_message(b"\x01")
        session.close(1.0)
        assert session.state is SessionState.CLOSING
        assert not session.writable
        # As the JS server: the queue drains first, the close packet goes in a poll of its
        # own (the JS client would otherwise act on the close before the messages).
        assert poll(session, 2.0) == payload("4a", "bAQ==")
        assert session.state is SessionState.CLOSING
        assert_silent(session)
        assert poll(session, 3.0) == payload("1")
        assert_closed(session, CloseReason.FORCED_CLOSE)

    def test_without_a_poll_the_close_timeout_ends_it(self) -> None:
        session = new_session()
        session.close(1.0)
        assert session.next_deadline() == 31.0  # close_timeout; no more pings
        session.handle_timer(25.0)
        assert_silent(session)
        session.handle_timer(30.999)
        assert_silent(session)
        session.handle_timer(31.0)
        (event,) = assert_closed(session, CloseReason.FORCED_CLOSE)
        assert event == SessionClosed(
            CloseReason.FORCED_CLOSE, "the client did not poll for the close packet"
        )

    def test_close_timeout_with_an_unanswered_poll(self) -> None:
        session = new_session()
        assert poll(session, 1.0) is None
        session.close(1.0, CloseReason.SERVER_SHUTTING_DOWN)
        session.handle_timer(31.0)  # the runtime never answered the GET
        assert_closed(session, CloseReason.SERVER_SHUTTING_DOWN)
        assert session.poll_response() == "1"
        assert session.poll_response() is None

    def test_custom_close_timeout(self) -> None:
        session = new_session(close_timeout=0.5)
        session.close(10.0)
        assert session.next_deadline() == 10.5

    def test_server_shutting_down(self) -> None:
        session = new_session()
        assert session.send_message("bye")
        session.close(1.0, CloseReason.SERVER_SHUTTING_DOWN)
        assert poll(session, 2.0) == payload("4bye")
        assert poll(session, 3.0) == payload("1")
        assert_closed(session, CloseReason.SERVER_SHUTTING_DOWN)

    def test_client_packets_while_closing_are_ignored(self) -> None:
        session = new_session()
        session.close(1.0)
        assert post(session, payload("4ignored", "3", "2"), 2.0) is None
        assert_silent(session)
        assert session.state is SessionState.CLOSING

    def test_client_close_while_closing(self) -> None:
        session = new_session()
        assert session.send_message("undelivered")
        session.close(1.0)
        assert post(session, "1", 2.0) is None
        assert_closed(session, CloseReason.TRANSPORT_CLOSE)

    def test_parse_error_while_closing(self) -> None:
        session = new_session()
        session.close(1.0)
        assert post(session, "abc", 2.0) is not None
        assert_closed(session, CloseReason.PARSE_ERROR)

    def test_close_twice(self) -> None:
        session = new_session()
        session.close(1.0)
        session.close(2.0, CloseReason.SERVER_SHUTTING_DOWN)
        assert session.next_deadline() == 31.0
        assert poll(session, 3.0) == "1"
        assert_closed(session, CloseReason.FORCED_CLOSE)
        session.close(4.0)
        assert_silent(session)


class TestCloseWithoutWaitingForAPoll:
    """``close(..., wait_for_poll=False)`` (shutdown): no close_timeout wait on polling."""

    def test_no_pending_poll_ends_at_once(self) -> None:
        session = new_session()
        assert session.send_message("dropped")
        session.close(1.0, CloseReason.SERVER_SHUTTING_DOWN, wait_for_poll=False)
        (event,) = assert_closed(session, CloseReason.SERVER_SHUTTING_DOWN)
        assert event == SessionClosed(CloseReason.SERVER_SHUTTING_DOWN, "closed by the server")
        assert session.poll_response() is None

    def test_pending_poll_still_gets_the_close_packet(self) -> None:
        session = new_session()
        assert poll(session, 1.0) is None
        assert session.send_message("last")
        session.close(2.0, CloseReason.SERVER_SHUTTING_DOWN, wait_for_poll=False)
        assert session.state is SessionState.CLOSING
        assert session.poll_response() == payload("4last", "1")
        assert_closed(session, CloseReason.SERVER_SHUTTING_DOWN)

    def test_websocket(self) -> None:
        session = new_session(Transport.WEBSOCKET)
        assert session.send_message("a")
        session.close(1.0, wait_for_poll=False)
        assert_closed(session, CloseReason.FORCED_CLOSE)
        assert session.ws_messages_to_send() == ["4a"]

    def test_while_probing(self) -> None:
        session = new_session()
        assert session.begin_upgrade(0.0) is None
        session.close(1.0, CloseReason.SERVER_SHUTTING_DOWN, wait_for_poll=False)
        events = assert_closed(session, CloseReason.SERVER_SHUTTING_DOWN)
        assert events[0] == UpgradeAborted("session closed")


class TestServerCloseOnWebSocket:
    def test_queued_messages_are_flushed_without_close_packet(self) -> None:
        session = new_session(Transport.WEBSOCKET)
        assert session.send_message("a")
        assert session.send_message(b"\x02")
        session.close(1.0)
        (event,) = assert_closed(session, CloseReason.FORCED_CLOSE)
        assert event == SessionClosed(CloseReason.FORCED_CLOSE, "closed by the server")
        assert session.ws_messages_to_send() == ["4a", b"\x02"]
        assert session.ws_messages_to_send() == []

    def test_server_shutting_down(self) -> None:
        session = new_session(Transport.WEBSOCKET)
        session.close(1.0, CloseReason.SERVER_SHUTTING_DOWN)
        assert_closed(session, CloseReason.SERVER_SHUTTING_DOWN)
        assert session.ws_messages_to_send() == []

    def test_after_upgrade(self) -> None:
        session = new_session()
        upgrade(session)
        assert session.send_message("last")
        session.close(1.0)
        assert_closed(session, CloseReason.FORCED_CLOSE)
        assert session.ws_messages_to_send() == ["4last"]

    def test_close_twice(self) -> None:
        session = new_session(Transport.WEBSOCKET)
        session.close(1.0)
        assert_closed(session, CloseReason.FORCED_CLOSE)
        session.close(2.0)
        assert_silent(session)


class TestAfterClose:
    @pytest.mark.parametrize("transport", list(Transport))
    def test_send_message_returns_false(self, transport: Transport) -> None:
        session = new_session(transport)
        session.close(1.0)
        assert session.send_message("x") is False
        assert session.send_message(b"x") is False

    def test_send_message_while_closing_is_dropped(self) -> None:
        session = new_session()
        session.close(1.0)
        assert session.send_message("x") is False
        assert poll(session, 2.0) == "1"
        assert session.send_message("x") is False

    def test_send_message_after_a_peer_close(self) -> None:
        session = new_session()
        assert post(session, "1") is None
        assert session.send_message("x") is False
        assert_closed(session, CloseReason.TRANSPORT_CLOSE)

    def test_send_message_returns_true_while_open(self) -> None:
        session = new_session()
        assert session.send_message("x") is True


class TestWritable:
    def test_polling(self) -> None:
        session = new_session(handshake=False)
        assert not session.writable
        assert session.begin_poll(0.0) is None
        assert session.writable
        session.close(1.0)
        assert not session.writable

    def test_websocket(self) -> None:
        session = new_session(Transport.WEBSOCKET)
        assert session.writable
        session.close(1.0)
        assert not session.writable

    def test_upgrading(self) -> None:
        session = new_session()
        probe(session)
        assert poll(session) == "6"
        assert not session.writable
        session.receive_ws("5", 1.0)
        assert session.writable


class TestEventsOnce:
    """Every event is reported once, in order; ``SessionClosed`` once and last."""

    def test_events_are_taken(self) -> None:
        session = new_session()
        assert post(session, payload("4a", "4b")) is None
        assert session.events_received() == [MessageReceived("a"), MessageReceived("b")]
        assert session.events_received() == []

    def test_one_close_for_many_reasons(self) -> None:
        session = new_session()
        assert poll(session) is None
        assert session.begin_post(0.0) is None
        session.receive_post(b"1", 0.0)  # the client closes
        session.abort_poll(1.0)
        session.abort_post(1.0, "x")
        session.close(1.0)
        session.handle_timer(1000.0)
        session.ws_closed(1.0)
        session.ws_error(1.0, "x")
        session.begin_poll(1.0)
        session.begin_post(1.0)
        session.begin_post(1.0)
        assert_closed(session, CloseReason.TRANSPORT_CLOSE)
        assert_silent(session)

    def test_upgrade_events_once(self) -> None:
        session = new_session()
        upgrade(session)
        session.receive_ws("5", 1.0)  # an upgrade packet on the open WebSocket: ignored
        assert_silent(session)
        assert_open(session)

    def test_abort_reported_before_close(self) -> None:
        session = new_session()
        assert session.begin_upgrade(0.0) is None
        session.handle_timer(25.0)
        session.handle_timer(45.0)  # upgrade timeout (10 s) then ping timeout
        events = assert_closed(session, CloseReason.PING_TIMEOUT)
        assert events == [
            UpgradeAborted("upgrade timeout"),
            SessionClosed(CloseReason.PING_TIMEOUT, "no pong in time"),
        ]
