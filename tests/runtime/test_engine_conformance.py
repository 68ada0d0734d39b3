"""The official engine.io-protocol v4 test suite, re-written for socketeer.

Each case (a subtest, named after the case of the v4 suite, socket.io
``docs/engine.io-protocol/v4-test-suite/test-suite.js``) makes the same checks against
``ASGIApp(EngineServer(ping_interval=0.3, ping_timeout=0.2))`` under uvicorn, with a server
that echoes every message, as the suite's server does; like the suite, the cases of one
``describe`` block share a server. Where the suite sleeps (waiting for
a ping timeout, or for a request to reach the server) these tests await the server's event
instead.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from ..conftest import BOTH_FRONTENDS
from .helpers import SEP, Harness, Start, error_body, recv, recv_message, ws_close_code

pytestmark = BOTH_FRONTENDS  # uvicorn + ASGIApp, and the native front-end

PING_INTERVAL = 0.3
PING_TIMEOUT = 0.2


Case = Callable[[Harness], Coroutine[Any, Any, None]]


async def run_cases(
    start: Start, subtests: pytest.Subtests, cases: list[Case], *, concurrently: bool = False
) -> None:
    """Run each case as a subtest, against one server, as the suite runs against one."""
    harness = await start(ping_interval=PING_INTERVAL, ping_timeout=PING_TIMEOUT)
    if concurrently:
        tasks = [asyncio.create_task(case(harness)) for case in cases]
        for case, task in zip(cases, tasks, strict=True):
            with subtests.test(case.__name__.replace("_", " ")):
                await task
        return
    for case in cases:
        with subtests.test(case.__name__.replace("_", " ")):
            await case(harness)


async def open_packet_sid(ws: ClientConnection) -> str:
    """Read the open packet of a WebSocket session; its sid."""
    data = await recv(ws)
    assert isinstance(data, str)
    assert data.startswith("0")
    sid: str = json.loads(data[1:])["sid"]
    return sid


HANDSHAKE_KEYS = {"sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"}


# ---- handshake: HTTP long-polling --------------------------------------------------------


async def polling_handshake_opens_a_session(harness: Harness) -> None:
    response = await harness.http.get(harness.url())
    assert response.status_code == 200
    assert response.text.startswith("0")
    value = json.loads(response.text[1:])
    assert set(value) == HANDSHAKE_KEYS
    assert isinstance(value["sid"], str)
    assert value["sid"]
    assert value["upgrades"] == ["websocket"]
    assert value["pingInterval"] == 300
    assert value["pingTimeout"] == 200
    assert value["maxPayload"] == 1_000_000


async def polling_handshake_fails_with_an_invalid_eio(harness: Harness) -> None:
    for query in ["transport=polling", "EIO=abc&transport=polling"]:
        response = await harness.http.get(harness.raw_url(query))
        assert response.status_code == 400
        assert response.json()["code"] == 5


async def polling_handshake_fails_with_an_invalid_transport(harness: Harness) -> None:
    for query in ["EIO=4", "EIO=4&transport=abc"]:
        response = await harness.http.get(harness.raw_url(query))
        assert response.status_code == 400
        assert response.json() == error_body(0, "Transport unknown")


async def polling_handshake_fails_with_an_invalid_method(harness: Harness) -> None:
    sessions = harness.server.clients_count
    for method in ["POST", "PUT"]:
        response = await harness.http.request(method, harness.url())
        assert response.status_code == 400
        assert response.json() == error_body(2, "Bad handshake method")
    assert harness.server.clients_count == sessions


# ---- handshake: WebSocket ----------------------------------------------------------------


async def websocket_handshake_opens_a_session(harness: Harness) -> None:
    async with harness.websocket() as ws:
        data = await recv(ws)
        assert isinstance(data, str)
        assert data.startswith("0")
        value = json.loads(data[1:])
        assert set(value) == HANDSHAKE_KEYS
        assert isinstance(value["sid"], str)
        assert value["upgrades"] == []
        assert value["pingInterval"] == 300
        assert value["pingTimeout"] == 200
        assert value["maxPayload"] == 1_000_000


async def websocket_handshake_fails_with_an_invalid_eio(harness: Harness) -> None:
    for query in ["transport=websocket", "EIO=abc&transport=websocket"]:
        response = await harness.ws_refused(harness.raw_ws_url(query))
        assert response.status_code == 400
        assert response.json()["code"] == 5


async def websocket_handshake_fails_with_an_invalid_transport(harness: Harness) -> None:
    for query in ["EIO=4", "EIO=4&transport=abc"]:
        response = await harness.ws_refused(harness.raw_ws_url(query))
        assert response.status_code == 400
        assert response.json() == error_body(0, "Transport unknown")


# ---- message: HTTP long-polling ----------------------------------------------------------


async def _sends_and_receives(harness: Harness, payload: str) -> None:
    sid, _ = await harness.handshake()
    push = await harness.post(sid, payload)
    assert push.status_code == 200
    assert push.text == "ok"
    poll = await harness.poll(sid)
    assert poll.status_code == 200
    assert poll.text == payload


async def polling_sends_and_receives_a_payload_containing_one_plain_text_packet(
    harness: Harness,
) -> None:
    await _sends_and_receives(harness, "4hello")


async def polling_sends_and_receives_a_payload_containing_several_plain_text_packets(
    harness: Harness,
) -> None:
    await _sends_and_receives(harness, f"4test1{SEP}4test2{SEP}4test3")


async def polling_sends_and_receives_a_payload_containing_plain_text_and_binary_packets(
    harness: Harness,
) -> None:
    await _sends_and_receives(harness, f"4hello{SEP}bAQIDBA==")


async def polling_closes_the_session_upon_invalid_packet_format(harness: Harness) -> None:
    sid, _ = await harness.handshake()
    push = await harness.post(sid, "abc")
    assert push.status_code == 400
    poll = await harness.poll(sid)
    assert poll.status_code == 400
    assert (await harness.closed(sid)).reason == "parse error"


async def polling_closes_the_session_upon_duplicate_poll_requests(harness: Harness) -> None:
    sid, _ = await harness.handshake()
    first = await harness.held_poll(sid)
    second = await harness.http.get(harness.url(sid=sid, t="burst"))
    response = await first
    assert response.status_code == 200
    assert response.text == "1"
    assert second.status_code == 400
    third = await harness.poll(sid)
    assert third.status_code == 400


async def polling_closes_the_session_upon_cancelled_polling_request(
    harness: Harness,
) -> None:
    sid, _ = await harness.handshake()
    pending = await harness.held_poll(sid)
    pending.cancel()  # httpx closes the connection of a cancelled request
    with pytest.raises(asyncio.CancelledError):
        await pending
    assert (await harness.closed(sid)).reason == "transport error"
    poll = await harness.poll(sid)
    assert poll.status_code == 400


# ---- message: WebSocket ------------------------------------------------------------------


async def websocket_sends_and_receives_a_plain_text_packet(harness: Harness) -> None:
    async with harness.websocket() as ws:
        assert str(await recv(ws)).startswith("0")  # handshake
        await ws.send("4hello")
        assert await recv_message(ws) == "4hello"


async def websocket_sends_and_receives_a_binary_packet(harness: Harness) -> None:
    async with harness.websocket() as ws:
        assert str(await recv(ws)).startswith("0")  # handshake
        await ws.send(bytes([1, 2, 3, 4]))
        assert await recv(ws) == bytes([1, 2, 3, 4])


async def websocket_closes_the_session_upon_invalid_packet_format(harness: Harness) -> None:
    async with harness.websocket() as ws:
        sid = await open_packet_sid(ws)  # handshake
        await ws.send("abc")
        await ws_close_code(ws)
    assert (await harness.closed(sid)).reason == "parse error"


# ---- heartbeat ---------------------------------------------------------------------------


async def polling_sends_ping_packets(harness: Harness) -> None:
    sid, _ = await harness.handshake()
    for _ in range(3):
        poll = await harness.poll(sid)
        assert poll.status_code == 200
        assert poll.text == "2"
        push = await harness.post(sid, "3")
        assert push.status_code == 200
    assert not harness.is_closed(sid)


async def polling_closes_the_session_upon_ping_timeout(harness: Harness) -> None:
    sid, _ = await harness.handshake()
    closed = await harness.closed(sid, within=PING_INTERVAL + PING_TIMEOUT + 3)
    assert closed.reason == "ping timeout"
    poll = await harness.poll(sid)
    assert poll.status_code == 400


async def websocket_sends_ping_packets(harness: Harness) -> None:
    async with harness.websocket() as ws:
        sid = await open_packet_sid(ws)  # handshake
        for _ in range(3):
            assert await recv(ws) == "2"
            await ws.send("3")
        assert not harness.is_closed(sid)
    assert (await harness.closed(sid)).reason == "transport close"


async def websocket_closes_the_session_upon_ping_timeout(harness: Harness) -> None:
    async with harness.websocket() as ws:
        sid = await open_packet_sid(ws)  # handshake
        assert await recv(ws) == "2"  # not answered
        await ws_close_code(ws, within=PING_TIMEOUT + 3)
    assert (await harness.closed(sid)).reason == "ping timeout"


# ---- close -------------------------------------------------------------------------------


async def polling_forcefully_closes_the_session(harness: Harness) -> None:
    sid, _ = await harness.handshake()
    pending = await harness.held_poll(sid)
    push = await harness.post(sid, "1")
    assert push.status_code == 200
    poll = await pending
    assert poll.status_code == 200
    assert poll.text == "6"
    poll2 = await harness.poll(sid)
    assert poll2.status_code == 400
    assert (await harness.closed(sid)).reason == "transport close"


async def websocket_forcefully_closes_the_session(harness: Harness) -> None:
    async with harness.websocket() as ws:
        sid = await open_packet_sid(ws)  # handshake
        await ws.send("1")
        await ws_close_code(ws)
    assert (await harness.closed(sid)).reason == "transport close"


# ---- upgrade -----------------------------------------------------------------------------


async def successfully_upgrades_from_polling_to_websocket(harness: Harness) -> None:
    sid, _ = await harness.handshake()
    async with harness.websocket(sid=sid) as ws:
        await ws.send("2probe")
        assert await recv(ws) == "3probe"
        poll = await harness.poll(sid)
        assert poll.status_code == 200
        assert poll.text == "6"  # a noop cleanly ends the pending poll
        await ws.send("5")
        await ws.send("4hello")
        assert await recv_message(ws) == "4hello"
    assert await harness.upgraded(sid)


async def ignores_http_requests_with_same_sid_after_upgrade(harness: Harness) -> None:
    sid, _ = await harness.handshake()
    async with harness.websocket(sid=sid) as ws:
        await ws.send("2probe")
        assert await recv(ws) == "3probe"
        await ws.send("5")
        assert await harness.upgraded(sid)
        poll = await harness.poll(sid)
        assert poll.status_code == 400
        assert poll.json() == error_body(3, "Bad request")
        await ws.send("4hello")
        assert await recv_message(ws) == "4hello"


async def ignores_websocket_connection_with_same_sid_after_upgrade(
    harness: Harness,
) -> None:
    sid, _ = await harness.handshake()
    async with harness.websocket(sid=sid) as ws:
        await ws.send("2probe")
        assert await recv(ws) == "3probe"
        await ws.send("5")
        assert await harness.upgraded(sid)
        second = await harness.ws_refused(harness.ws_url(sid=sid))
        assert second.status_code == 400
        assert second.json() == error_body(3, "Bad request")
        await ws.send("4hello")
        assert await recv_message(ws) == "4hello"
    assert (await harness.closed(sid)).reason == "transport close"


# ---- the suite, one test per "describe" block ------------------------------------------------


async def test_handshake(start: Start, subtests: pytest.Subtests) -> None:
    await run_cases(
        start,
        subtests,
        [
            polling_handshake_opens_a_session,
            polling_handshake_fails_with_an_invalid_eio,
            polling_handshake_fails_with_an_invalid_transport,
            polling_handshake_fails_with_an_invalid_method,
            websocket_handshake_opens_a_session,
            websocket_handshake_fails_with_an_invalid_eio,
            websocket_handshake_fails_with_an_invalid_transport,
        ],
    )


async def test_message(start: Start, subtests: pytest.Subtests) -> None:
    await run_cases(
        start,
        subtests,
        [
            polling_sends_and_receives_a_payload_containing_one_plain_text_packet,
            polling_sends_and_receives_a_payload_containing_several_plain_text_packets,
            polling_sends_and_receives_a_payload_containing_plain_text_and_binary_packets,
            polling_closes_the_session_upon_invalid_packet_format,
            polling_closes_the_session_upon_duplicate_poll_requests,
            polling_closes_the_session_upon_cancelled_polling_request,
            websocket_sends_and_receives_a_plain_text_packet,
            websocket_sends_and_receives_a_binary_packet,
            websocket_closes_the_session_upon_invalid_packet_format,
        ],
    )


async def test_heartbeat(start: Start, subtests: pytest.Subtests) -> None:
    # These cases wait for pings and timeouts; they run side by side to save that time.
    await run_cases(
        start,
        subtests,
        [
            polling_sends_ping_packets,
            polling_closes_the_session_upon_ping_timeout,
            websocket_sends_ping_packets,
            websocket_closes_the_session_upon_ping_timeout,
        ],
        concurrently=True,
    )


async def test_close(start: Start, subtests: pytest.Subtests) -> None:
    await run_cases(
        start,
        subtests,
        [polling_forcefully_closes_the_session, websocket_forcefully_closes_the_session],
    )


async def test_upgrade(start: Start, subtests: pytest.Subtests) -> None:
    await run_cases(
        start,
        subtests,
        [
            successfully_upgrades_from_polling_to_websocket,
            ignores_http_requests_with_same_sid_after_upgrade,
            ignores_websocket_connection_with_same_sid_after_upgrade,
        ],
    )
