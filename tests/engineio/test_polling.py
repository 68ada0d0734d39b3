"""engine.io-protocol, *Transports > HTTP long-polling*: GETs receive, POSTs send."""

from __future__ import annotations

import pytest

from socketeer.engineio import (
    CloseReason,
    EngineConfig,
    EngineRequest,
    ErrorCode,
    MessageReceived,
    SessionClosed,
    check_session,
    parse_request,
)

from .helpers import (
    SID,
    assert_closed,
    assert_error,
    assert_open,
    assert_silent,
    new_session,
    payload,
    poll,
    post,
)


class TestReceivingData:
    """Server to client: the pending GET is answered with every queued packet."""

    def test_one_message(self) -> None:
        session = new_session()
        assert session.send_message("hey")
        assert poll(session) == "4hey"

    def test_poll_waits_until_there_is_something(self) -> None:
        session = new_session()
        assert poll(session) is None
        assert session.poll_pending
        assert session.poll_response() is None
        assert session.send_message("hey")
        assert session.poll_response() == "4hey"
        assert not session.poll_pending
        assert session.poll_response() is None

    def test_several_packets_in_one_payload(self) -> None:
        session = new_session()
        for text in ("test1", "test2", "test3"):
            assert session.send_message(text)
        assert poll(session) == "4test1\x1e4test2\x1e4test3"
        assert poll(session) is None

    def test_binary_is_base64(self) -> None:
        session = new_session()
        assert session.send_message("hello")
        assert session.send_message(b"\x01\x02\x03\x04")
        assert poll(session) == "4hello\x1ebAQIDBA=="

    def test_empty_messages(self) -> None:
        session = new_session()
        assert session.send_message("")
        assert session.send_message(b"")
        assert poll(session) == "4\x1eb"

    def test_text_is_not_escaped(self) -> None:
        session = new_session()
        assert session.send_message('\u20ac "quoted" \n')
        assert poll(session) == '4\u20ac "quoted" \n'

    def test_poll_response_without_a_poll(self) -> None:
        session = new_session()
        assert session.send_message("kept")
        assert session.poll_response() is None
        assert poll(session) == "4kept"

    def test_writable_only_while_a_poll_is_pending(self) -> None:
        session = new_session()
        assert not session.writable
        assert poll(session) is None
        assert session.writable
        assert session.send_message("x")
        assert session.poll_response() == "4x"
        assert not session.writable

    def test_nothing_for_websocket(self) -> None:
        session = new_session()
        assert session.send_message("x")
        assert session.ws_messages_to_send() == []
        assert poll(session) == "4x"


class TestSendingData:
    """Client to server: a POST body is a payload; the answer is ``ok`` (None here)."""

    def test_one_message(self) -> None:
        session = new_session()
        assert post(session, "4hello") is None
        assert session.events_received() == [MessageReceived("hello")]
        assert_open(session)

    def test_several_messages(self) -> None:
        session = new_session()
        assert post(session, "4test1\x1e4test2\x1e4test3") is None
        assert session.events_received() == [
            MessageReceived("test1"),
            MessageReceived("test2"),
            MessageReceived("test3"),
        ]

    def test_text_and_binary(self) -> None:
        session = new_session()
        assert post(session, "4hello\x1ebAQIDBA==") is None
        assert session.events_received() == [
            MessageReceived("hello"),
            MessageReceived(b"\x01\x02\x03\x04"),
        ]

    def test_echo_as_in_the_test_suite(self) -> None:
        session = new_session()
        assert post(session, "4hello\x1ebAQIDBA==") is None
        for event in session.events_received():
            assert isinstance(event, MessageReceived)
            assert session.send_message(event.data)
        assert poll(session) == "4hello\x1ebAQIDBA=="

    def test_utf8_body(self) -> None:
        session = new_session()
        assert post(session, "4\u20ac\x1e4\U0001f600".encode()) is None
        assert session.events_received() == [
            MessageReceived("\u20ac"),
            MessageReceived("\U0001f600"),
        ]

    @pytest.mark.parametrize("wire", ["0", "0{}", "5", "6", "6noop", "3probe"])
    def test_other_packets_are_ignored(self, wire: str) -> None:
        session = new_session()
        assert post(session, payload(wire, "4after")) is None
        assert session.events_received() == [MessageReceived("after")]
        assert_open(session)

    def test_post_while_a_poll_is_pending(self) -> None:
        session = new_session()
        assert poll(session) is None
        assert post(session, "4hi") is None
        assert session.poll_response() is None
        assert session.poll_pending
        assert session.events_received() == [MessageReceived("hi")]

    def test_packet_count_limit_is_inclusive(self) -> None:
        session = new_session(max_payload_packets=3)
        assert post(session, payload("4a", "4b", "4c")) is None
        assert len(session.events_received()) == 3
        assert_open(session)


class TestInvalidPayload:
    """An invalid POST body closes the session with "parse error" and is refused with 400."""

    @pytest.mark.parametrize(
        "body",
        [
            pytest.param(b"abc", id="garbage-type"),
            pytest.param(b"7", id="unknown-type-digit"),
            pytest.param(b"bAQIDBA=", id="truncated-base64"),
            pytest.param(b"b!!!!", id="bad-base64"),
            pytest.param(b"", id="empty-body"),
            pytest.param(b"4\xff", id="invalid-utf8"),
            pytest.param(b"\xed\xa0\x80", id="utf8-surrogate"),
            pytest.param(b"\x1e", id="separator-only"),
            pytest.param(b"\x1e\x1e", id="two-separators"),
            pytest.param(b"\x1e4a", id="leading-separator"),
            pytest.param(b"4a\x1e", id="trailing-separator"),
            pytest.param(b"4a\x1e\x1e4b", id="double-separator"),
            pytest.param(b"4a\x1eabc", id="valid-then-garbage"),
        ],
    )
    def test_parse_error(self, body: bytes) -> None:
        session = new_session()
        error = post(session, body)
        assert_error(error, ErrorCode.BAD_REQUEST)
        (event,) = assert_closed(session, CloseReason.PARSE_ERROR)
        assert isinstance(event, SessionClosed)
        assert event.description

    def test_too_many_packets(self) -> None:
        session = new_session(max_payload_packets=3)
        error = post(session, payload("4a", "4b", "4c", "4d"))
        assert_error(error, ErrorCode.BAD_REQUEST)
        (event,) = assert_closed(session, CloseReason.PARSE_ERROR)
        assert isinstance(event, SessionClosed)
        assert "more than 3 packets" in event.description

    def test_pending_poll_gets_close_and_later_polls_are_refused(self) -> None:
        # test-suite.js: "closes the session upon invalid packet format".
        session = new_session()
        assert poll(session) is None
        assert session.send_message("dropped")
        assert_error(post(session, "abc"), ErrorCode.BAD_REQUEST)
        assert_closed(session, CloseReason.PARSE_ERROR)
        assert session.poll_response() == "1"
        request = parse_request(
            method="GET",
            query={"EIO": "4", "transport": "polling", "sid": SID},
            websocket=False,
            config=EngineConfig(),
        )
        assert isinstance(request, EngineRequest)
        assert_error(check_session(request, session), ErrorCode.UNKNOWN_SID)


class TestClientClose:
    """A close packet POSTed by the client: "transport close"; a pending GET gets ``6``."""

    def test_close_while_a_poll_is_pending(self) -> None:
        # test-suite.js, close > HTTP long-polling: the pending GET answers "6".
        session = new_session()
        assert poll(session) is None
        assert post(session, "1") is None
        (event,) = assert_closed(session, CloseReason.TRANSPORT_CLOSE)
        assert event == SessionClosed(CloseReason.TRANSPORT_CLOSE, "closed by the client")
        assert session.poll_response() == "6"
        assert session.poll_response() is None

    def test_close_without_a_poll(self) -> None:
        session = new_session()
        assert session.send_message("dropped")
        assert post(session, "1") is None
        assert_closed(session, CloseReason.TRANSPORT_CLOSE)
        assert session.poll_response() is None

    def test_messages_before_close_are_delivered(self) -> None:
        session = new_session()
        assert post(session, payload("4a", "1")) is None
        events = assert_closed(session, CloseReason.TRANSPORT_CLOSE)
        assert events[0] == MessageReceived("a")
        assert len(events) == 2

    def test_packets_after_close_are_ignored(self) -> None:
        session = new_session()
        assert post(session, payload("1", "4late", "2", "1")) is None
        events = assert_closed(session, CloseReason.TRANSPORT_CLOSE)
        assert len(events) == 1


class TestConcurrentRequests:
    """A client MUST NOT have two GETs (or two POSTs) at once; the server closes the session."""

    def test_post_pending_while_a_body_is_read(self) -> None:
        session = new_session()
        assert not session.post_pending
        assert session.begin_post(0.0) is None
        assert session.post_pending
        assert session.receive_post(b"4a", 0.0) is None
        assert not session.post_pending

    def test_duplicate_get(self) -> None:
        # test-suite.js: the first GET answers "1", the second is refused, then 400.
        session = new_session()
        assert poll(session) is None
        assert_error(session.begin_poll(1.0), ErrorCode.BAD_REQUEST)
        (event,) = assert_closed(session, CloseReason.TRANSPORT_ERROR)
        assert event == SessionClosed(CloseReason.TRANSPORT_ERROR, "overlap from client")
        assert session.poll_response() == "1"
        assert session.poll_response() is None

    def test_duplicate_get_drops_queued_messages(self) -> None:
        session = new_session()
        assert poll(session) is None
        # the runtime has not answered the first GET yet
        session.handle_timer(25.0)
        assert_error(session.begin_poll(26.0), ErrorCode.BAD_REQUEST)
        assert_closed(session, CloseReason.TRANSPORT_ERROR)
        assert session.poll_response() == "1"

    def test_duplicate_post(self) -> None:
        session = new_session()
        assert session.begin_post(0.0) is None
        assert_error(session.begin_post(0.0), ErrorCode.BAD_REQUEST)
        (event,) = assert_closed(session, CloseReason.TRANSPORT_ERROR)
        assert event == SessionClosed(
            CloseReason.TRANSPORT_ERROR, "data request overlap from client"
        )

    def test_body_of_the_first_post_after_an_overlap_is_not_reported(self) -> None:
        # JS: closing the transport destroys the first data request; nothing of it is read.
        session = new_session()
        assert session.begin_post(0.0) is None
        assert_error(session.begin_post(0.0), ErrorCode.BAD_REQUEST)
        assert_closed(session, CloseReason.TRANSPORT_ERROR)
        session.receive_post(b"4late", 1.0)
        assert_silent(session)

    def test_pong_body_after_close_arms_no_timer(self) -> None:
        session = new_session()
        assert session.begin_post(0.0) is None
        assert_error(session.begin_post(0.0), ErrorCode.BAD_REQUEST)
        assert_closed(session, CloseReason.TRANSPORT_ERROR)
        session.receive_post(b"3", 1.0)
        assert session.next_deadline() is None

    def test_sequential_posts_are_fine(self) -> None:
        session = new_session()
        for i in range(3):
            assert post(session, f"4m{i}") is None
        assert len(session.events_received()) == 3
        assert_open(session)

    def test_get_and_post_at_once_are_fine(self) -> None:
        session = new_session()
        assert poll(session) is None
        assert session.begin_post(0.0) is None
        assert session.receive_post(b"4x", 0.0) is None
        assert session.events_received() == [MessageReceived("x")]
        assert_open(session)


class TestAbortedRequests:
    def test_abort_pending_poll(self) -> None:
        session = new_session()
        assert poll(session) is None
        session.abort_poll(1.0)
        (event,) = assert_closed(session, CloseReason.TRANSPORT_ERROR)
        assert event == SessionClosed(
            CloseReason.TRANSPORT_ERROR, "poll connection closed prematurely"
        )
        assert not session.poll_pending
        assert session.poll_response() is None

    def test_abort_without_a_pending_poll_does_nothing(self) -> None:
        session = new_session()
        session.abort_poll(1.0)
        assert_open(session)
        assert poll(session) is None

    def test_abort_post(self) -> None:
        session = new_session()
        assert session.begin_post(0.0) is None
        session.abort_post(1.0, "payload too large")
        (event,) = assert_closed(session, CloseReason.TRANSPORT_ERROR)
        assert event == SessionClosed(CloseReason.TRANSPORT_ERROR, "payload too large")

    def test_abort_post_answers_the_pending_poll_with_close(self) -> None:
        session = new_session()
        assert poll(session) is None
        assert session.begin_post(0.0) is None
        session.abort_post(1.0, "data request connection closed prematurely")
        assert_closed(session, CloseReason.TRANSPORT_ERROR)
        assert session.poll_response() == "1"

    def test_abort_after_close_reports_nothing(self) -> None:
        session = new_session()
        assert post(session, "1") is None
        assert_closed(session, CloseReason.TRANSPORT_CLOSE)
        session.abort_post(1.0, "late")
        session.abort_poll(1.0)
        assert_silent(session)


def test_session_stays_usable_after_a_normal_exchange() -> None:
    session = new_session()
    assert post(session, "4a") is None
    assert session.send_message("b")
    assert poll(session) == "4b"
    assert session.events_received() == [MessageReceived("a")]
    assert_open(session)
