"""Property tests (hypothesis): round trips, decoding arbitrary input, state x input.

The state x input test drives a session through random sequences of everything a runtime
may call, in any order and at any time, and checks after each call that the session never
raised, reports ``SessionClosed`` at most once, reports nothing after it, and only ever
produces well-formed output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from socketeer._types import SessionId
from socketeer.engineio import (
    CloseReason,
    EngineConfig,
    EngineError,
    Event,
    Packet,
    PacketType,
    ServerSession,
    SessionClosed,
    SessionState,
    Transport,
    decode_packet,
    decode_payload,
    encode_packet,
    encode_packet_text,
    encode_payload,
)
from socketeer.exceptions import RemoteProtocolError

# -- packets ---------------------------------------------------------------------------------

text_without_separator = st.text(st.characters(exclude_characters="\x1e"))
text_packets = st.builds(Packet, st.sampled_from(list(PacketType)), text_without_separator)
any_text_packets = st.builds(Packet, st.sampled_from(list(PacketType)), st.text())
binary_packets = st.builds(Packet, st.just(PacketType.MESSAGE), st.binary())
payload_packets = st.one_of(text_packets, binary_packets)
protocol_like_text = st.text(alphabet="0123456789b\x1eAQIDBw=probe \u20ac", max_size=30)
arbitrary_text = st.one_of(st.text(), protocol_like_text)


class TestRoundTrips:
    @given(st.one_of(any_text_packets, binary_packets))
    def test_websocket_packet(self, packet: Packet) -> None:
        wire = encode_packet(packet)
        assert isinstance(wire, bytes) == isinstance(packet.data, bytes)
        assert decode_packet(wire) == packet

    @given(st.one_of(any_text_packets, binary_packets))
    def test_polling_packet(self, packet: Packet) -> None:
        wire = encode_packet_text(packet)
        assert isinstance(wire, str)
        assert decode_packet(wire) == packet

    @given(st.lists(payload_packets, min_size=1, max_size=20))
    def test_payload(self, packets: list[Packet]) -> None:
        body = encode_payload(packets)
        assert body.count("\x1e") == len(packets) - 1
        assert decode_payload(body, max_packets=len(packets)) == packets

    @given(st.lists(payload_packets, min_size=2, max_size=20))
    def test_payload_over_the_limit(self, packets: list[Packet]) -> None:
        body = encode_payload(packets)
        try:
            decode_payload(body, max_packets=len(packets) - 1)
        except RemoteProtocolError:
            return
        raise AssertionError("the packet count limit was not enforced")


class TestArbitraryInput:
    """Decoding anything either gives packets or raises ``RemoteProtocolError``."""

    @given(arbitrary_text)
    def test_decode_packet_text(self, data: str) -> None:
        try:
            packet = decode_packet(data)
        except RemoteProtocolError:
            return
        assert isinstance(packet.type, PacketType)
        if isinstance(packet.data, bytes):
            assert packet.type is PacketType.MESSAGE
            assert data.startswith("b")
        else:
            assert data == f"{packet.type.value}{packet.data}"

    @given(st.binary())
    def test_decode_packet_bytes(self, data: bytes) -> None:
        assert decode_packet(data) == Packet(PacketType.MESSAGE, data)

    @given(arbitrary_text, st.integers(min_value=1, max_value=30))
    def test_decode_payload(self, body: str, max_packets: int) -> None:
        try:
            packets = decode_payload(body, max_packets=max_packets)
        except RemoteProtocolError:
            return
        assert 1 <= len(packets) <= max_packets
        assert all(isinstance(p, Packet) for p in packets)


# -- state x input ---------------------------------------------------------------------------

PARTS = ["0", "1", "2", "3", "4hi", "4", "5", "6", "b", "bAQIDBA==", "2probe", "3probe", "abc"]
valid_bodies = st.lists(st.sampled_from(PARTS[:-1]), min_size=1, max_size=5).map(
    lambda parts: "\x1e".join(parts).encode()
)
post_bodies = st.one_of(
    valid_bodies,
    st.lists(st.sampled_from(PARTS), min_size=1, max_size=5).map(
        lambda parts: "\x1e".join(parts).encode()
    ),
    st.binary(max_size=12),
    st.text(max_size=12).map(str.encode),
)
ws_frames = st.one_of(
    st.sampled_from(["2probe", "5", "3", "4hi", "1", "2", "6", "0", "abc", "", "bAQ==", "3probe"]),
    st.binary(max_size=6),
    st.text(max_size=6),
)
SIMPLE_OPERATIONS = [
    ("begin_poll",),
    ("poll_response",),
    ("abort_poll",),
    ("begin_post",),
    ("abort_post",),
    ("begin_upgrade",),
    ("ws_messages_to_send",),
    ("ws_closed",),
    ("ws_error",),
    ("to_deadline",),
]
operations = st.one_of(
    *(st.just(op) for op in SIMPLE_OPERATIONS),
    st.tuples(st.just("receive_post"), post_bodies),
    st.tuples(st.just("post"), post_bodies),
    st.tuples(st.just("receive_ws"), ws_frames),
    # Text without \x1e: a raw record separator in a message breaks the polling payload
    # (a limitation of the protocol itself; JS does not guard against it either).
    st.tuples(
        st.just("send_message"),
        st.one_of(
            st.text(st.characters(exclude_characters="\x1e"), max_size=4), st.binary(max_size=4)
        ),
    ),
    st.tuples(st.just("close"), st.sampled_from(list(CloseReason))),
    st.tuples(st.just("advance"), st.floats(min_value=0.0, max_value=40.0)),
)
configs = st.sampled_from(
    [
        EngineConfig(),
        EngineConfig(allow_upgrades=False),
        EngineConfig(max_payload_packets=2),
        EngineConfig(ping_interval=1.0, ping_timeout=1.0, upgrade_timeout=1.0, close_timeout=1.0),
        EngineConfig(transports=(Transport.POLLING,)),
    ]
)


@dataclass
class Driver:
    """Runs operations on one session and checks the invariants after each."""

    session: ServerSession
    now: float = 0.0
    events: list[Event] = field(default_factory=list)
    log: list[Any] = field(default_factory=list)

    def run(self, op: tuple[Any, ...]) -> None:
        self.log.append(op)
        s = self.session
        result: Any = None
        match op:
            case ("begin_poll",):
                result = s.begin_poll(self.now)
                self.check_refusal(result)
            case ("poll_response",):
                result = s.poll_response()
                self.check_body(result)
            case ("abort_poll",):
                s.abort_poll(self.now)
            case ("begin_post",):
                result = s.begin_post(self.now)
                self.check_refusal(result)
            case ("receive_post", bytes() as body):
                result = s.receive_post(body, self.now)
                self.check_refusal(result)
            case ("post", bytes() as body):
                result = s.begin_post(self.now)
                self.check_refusal(result)
                if result is None:
                    result = s.receive_post(body, self.now)
                    self.check_refusal(result)
            case ("abort_post",):
                s.abort_post(self.now, "aborted")
            case ("begin_upgrade",):
                result = s.begin_upgrade(self.now)
                assert result is None or isinstance(result, EngineError)
                if result is None:
                    assert s.state is SessionState.PROBING
            case ("receive_ws", data):
                s.receive_ws(data, self.now)
            case ("ws_messages_to_send",):
                for frame in s.ws_messages_to_send():
                    decode_packet(frame)  # every frame is a well-formed packet
            case ("ws_closed",):
                s.ws_closed(self.now)
            case ("ws_error",):
                s.ws_error(self.now, "error")
            case ("send_message", data):
                sent = s.send_message(data)
                assert sent is (s.state not in (SessionState.CLOSING, SessionState.CLOSED))
            case ("close", reason):
                s.close(self.now, reason)
            case ("advance", float() as dt):
                self.now += dt
                s.handle_timer(self.now)
            case ("to_deadline",):
                deadline = s.next_deadline()
                if deadline is not None:
                    self.now = max(self.now, deadline)
                s.handle_timer(self.now)
            case _:
                raise AssertionError(f"unknown operation {op!r}")
        self.check_invariants()

    def check_refusal(self, result: object) -> None:
        """A refused request closes the session (parse error, overlap)."""
        assert result is None or isinstance(result, EngineError)
        if result is not None:
            assert self.session.closed

    def check_body(self, body: str | None) -> None:
        if body is not None:
            assert body, "an empty poll body"
            assert not self.session.poll_pending
            decode_payload(body, max_packets=10**9)

    def check_invariants(self) -> None:
        s = self.session
        new = s.events_received()
        if any(isinstance(e, SessionClosed) for e in self.events):
            assert new == [], f"reported after SessionClosed: {new}"
        self.events.extend(new)
        closes = [i for i, e in enumerate(self.events) if isinstance(e, SessionClosed)]
        assert len(closes) <= 1, self.events
        if closes:
            assert closes[0] == len(self.events) - 1
            reason = self.events[closes[0]]
            assert isinstance(reason, SessionClosed)
            assert isinstance(reason.reason, CloseReason)
        assert s.closed == bool(closes), (s.state, self.events)
        assert s.closed == (s.state is SessionState.CLOSED)
        if s.closed:
            assert s.next_deadline() is None, "a closed session still wants a timer"
            assert not s.writable
        if s.state in (SessionState.PROBING, SessionState.UPGRADING):
            assert s.transport is Transport.POLLING
        if s.writable:  # a message sent now would go out at once
            if s.transport is Transport.WEBSOCKET:
                assert s.state is SessionState.OPEN
            else:
                assert s.poll_pending
                assert s.state in (SessionState.OPEN, SessionState.PROBING)


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(list(Transport)),
    configs,
    st.booleans(),
    st.lists(operations, max_size=40),
)
def test_state_x_input(
    transport: Transport, config: EngineConfig, handshake: bool, ops: list[tuple[Any, ...]]
) -> None:
    driver = Driver(ServerSession(SessionId("sid"), config, transport, 0.0))
    if handshake:
        driver.run(("begin_poll",) if transport is Transport.POLLING else ("ws_messages_to_send",))
        driver.run(("poll_response",))
    for op in ops:
        driver.run(op)
    # Whatever happened, the session can still be closed, exactly once.
    driver.run(("close", CloseReason.SERVER_SHUTTING_DOWN))
    driver.run(("begin_poll",))
    driver.run(("poll_response",))
    driver.run(("advance", 1000.0))
    assert driver.session.closed
    assert sum(isinstance(e, SessionClosed) for e in driver.events) == 1


# -- delivery --------------------------------------------------------------------------------

STEPS = ["send", "poll", "respond", "begin_upgrade", "probe", "upgrade", "ws_closed", "flush_ws"]
STEPS += ["tick", "pong"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(STEPS), max_size=60))
def test_messages_are_delivered_in_order_exactly_once(steps: list[str]) -> None:
    """Whatever the interleaving of polls, upgrade steps and heartbeats, the messages the
    peer receives are the ones sent, in order, without loss or duplicate; only a session
    that closed may leave a tail undelivered."""
    session = ServerSession(SessionId("sid"), EngineConfig(), Transport.POLLING, 0.0)
    sent: list[str | bytes] = []
    delivered: list[str | bytes] = []
    now = 0.0

    def take_body(body: str | None) -> None:
        if body is not None:
            for packet in decode_payload(body, max_packets=10**9):
                if packet.type is PacketType.MESSAGE:
                    delivered.append(packet.data)

    def take_frames() -> None:
        for frame in session.ws_messages_to_send():
            packet = decode_packet(frame)
            if packet.type is PacketType.MESSAGE:
                delivered.append(packet.data)

    upgrade_states = (SessionState.PROBING, SessionState.UPGRADING)
    for step in steps:
        match step:
            case "send":
                data = f"m{len(sent)}"
                if session.send_message(data):
                    sent.append(data)
            case "poll":
                if not session.poll_pending:
                    session.begin_poll(now)
                take_body(session.poll_response())
            case "respond":
                take_body(session.poll_response())
            case "begin_upgrade":
                session.begin_upgrade(now)
            case "probe" if session.state in upgrade_states:
                session.receive_ws("2probe", now)
            case "upgrade" if session.state in upgrade_states:
                session.receive_ws("5", now)
            case "ws_closed":
                session.ws_closed(now)
            case "flush_ws":
                take_frames()
            case "tick":
                now += 5.0
                session.handle_timer(now)
            case "pong":
                if session.transport is Transport.POLLING:
                    session.begin_post(now)
                    session.receive_post(b"3", now)
                else:
                    session.receive_ws("3", now)
        assert delivered == sent[: len(delivered)], (delivered, sent)

    if not session.closed:
        if session.state is SessionState.PROBING:
            session.receive_ws("2probe", now)
        if session.state is SessionState.UPGRADING:
            session.receive_ws("5", now)
        take_frames()
        if not session.poll_pending:
            session.begin_poll(now)
        take_body(session.poll_response())
        assert delivered == sent
    assert delivered == sent[: len(delivered)]
