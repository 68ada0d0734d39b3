"""engine.io-protocol, *Protocol > Heartbeat*: the server pings, the client pongs.

Pings go out ``ping_interval`` after the handshake (or after the last pong); a session whose
pong does not arrive ``ping_timeout`` after the ping is closed with "ping timeout".
"""

from __future__ import annotations

import pytest

from socketeer.engineio import CloseReason, SessionClosed, Transport

from .helpers import (
    assert_closed,
    assert_open,
    assert_silent,
    new_session,
    payload,
    poll,
    post,
)


class TestPingSchedule:
    def test_first_deadline_is_the_ping_interval(self) -> None:
        session = new_session(now=100.0)
        assert session.next_deadline() == 125.0

    def test_nothing_before_the_deadline(self) -> None:
        session = new_session()
        assert poll(session) is None
        session.handle_timer(24.999)
        assert session.poll_response() is None
        assert session.next_deadline() == 25.0

    def test_ping_at_exactly_the_interval(self) -> None:
        session = new_session()
        assert poll(session) is None
        session.handle_timer(25.0)
        assert session.poll_response() == "2"
        assert session.next_deadline() == 45.0
        assert_silent(session)

    def test_ping_waits_for_the_next_poll(self) -> None:
        session = new_session()
        session.handle_timer(25.0)
        assert session.send_message("after")
        assert poll(session, 26.0) == payload("2", "4after")

    def test_pong_resets_the_schedule(self) -> None:
        session = new_session()
        session.handle_timer(25.0)
        assert poll(session, 25.0) == "2"
        assert post(session, "3", 30.0) is None
        assert session.next_deadline() == 55.0
        session.handle_timer(45.0)  # the old pong deadline: nothing happens
        assert_open(session)
        session.handle_timer(55.0)
        assert poll(session, 55.0) == "2"
        assert session.next_deadline() == 75.0

    def test_ping_pong_rounds_as_in_the_test_suite(self) -> None:
        # test-suite.js, heartbeat > HTTP long-polling: three rounds of GET "2" / POST "3".
        session = new_session(ping_interval=0.3, ping_timeout=0.2)
        now = 0.0
        for _ in range(3):
            assert poll(session, now) is None
            deadline = session.next_deadline()
            assert deadline is not None
            assert deadline == pytest.approx(now + 0.3)
            now = deadline
            session.handle_timer(now)
            assert session.poll_response() == "2"
            assert post(session, "3", now) is None
        assert_open(session)

    def test_late_timer_sends_the_ping_then(self) -> None:
        session = new_session()
        session.handle_timer(50.0)  # the runtime woke up late
        assert poll(session, 50.0) == "2"
        assert session.next_deadline() == 70.0
        assert_open(session)

    def test_unsolicited_pong_postpones_the_ping(self) -> None:
        session = new_session()
        assert post(session, "3", 10.0) is None
        assert session.next_deadline() == 35.0
        assert_open(session)

    def test_pong_on_websocket(self) -> None:
        session = new_session(Transport.WEBSOCKET)
        session.handle_timer(25.0)
        assert session.ws_messages_to_send() == ["2"]
        session.receive_ws("3", 26.0)
        assert session.next_deadline() == 51.0
        assert_silent(session)


class TestPingTimeout:
    def test_timeout_at_interval_plus_timeout(self) -> None:
        session = new_session()
        session.handle_timer(25.0)
        assert poll(session, 25.0) == "2"
        session.handle_timer(44.999)
        assert_open(session)
        session.handle_timer(45.0)
        (event,) = assert_closed(session, CloseReason.PING_TIMEOUT)
        assert event == SessionClosed(CloseReason.PING_TIMEOUT, "no pong in time")

    def test_timeout_answers_the_pending_poll_with_close(self) -> None:
        session = new_session()
        session.handle_timer(25.0)
        assert poll(session, 25.0) == "2"
        assert poll(session, 26.0) is None
        session.handle_timer(45.0)
        assert_closed(session, CloseReason.PING_TIMEOUT)
        assert session.poll_response() == "1"
        assert session.poll_response() is None

    def test_timeout_drops_queued_messages(self) -> None:
        session = new_session()
        session.handle_timer(25.0)
        assert session.send_message("lost")
        session.handle_timer(45.0)
        assert_closed(session, CloseReason.PING_TIMEOUT)
        assert poll(session, 46.0) == "1"

    def test_timeout_on_websocket(self) -> None:
        session = new_session(Transport.WEBSOCKET)
        session.handle_timer(25.0)
        assert session.ws_messages_to_send() == ["2"]
        session.handle_timer(45.0)
        assert_closed(session, CloseReason.PING_TIMEOUT)
        assert session.ws_messages_to_send() == []

    def test_one_timer_call_past_both_deadlines(self) -> None:
        session = new_session()
        session.handle_timer(25.0)
        session.handle_timer(1000.0)
        assert_closed(session, CloseReason.PING_TIMEOUT)

    def test_timer_after_close_does_nothing(self) -> None:
        session = new_session()
        session.handle_timer(25.0)
        session.handle_timer(45.0)
        assert_closed(session, CloseReason.PING_TIMEOUT)
        session.handle_timer(100.0)
        assert_silent(session)


class TestHeartbeatDirection:
    """In v4 only the server pings: a client ping closes with "transport error"."""

    def test_client_ping_on_polling(self) -> None:
        session = new_session()
        assert poll(session) is None
        assert post(session, "2") is None
        (event,) = assert_closed(session, CloseReason.TRANSPORT_ERROR)
        assert event == SessionClosed(CloseReason.TRANSPORT_ERROR, "invalid heartbeat direction")
        assert session.poll_response() == "1"

    def test_client_ping_on_websocket(self) -> None:
        session = new_session(Transport.WEBSOCKET)
        session.receive_ws("2", 1.0)
        assert_closed(session, CloseReason.TRANSPORT_ERROR)
        assert session.ws_messages_to_send() == []

    def test_client_probe_ping_on_an_open_websocket(self) -> None:
        session = new_session(Transport.WEBSOCKET)
        session.receive_ws("2probe", 1.0)
        assert_closed(session, CloseReason.TRANSPORT_ERROR)
