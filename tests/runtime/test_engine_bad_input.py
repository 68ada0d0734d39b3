"""Hostile and malformed input, over real loopback HTTP and WebSocket connections.

Every case asserts the exact answer (status and ``{"code":N,"message":"..."}`` body, or the
WebSocket close) and each test checks that a *bystander*, a polling session opened before
the barrage, still echoes afterwards: one client's garbage never hurts another client or
the server.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from websockets.exceptions import ConnectionClosed

from socketeer._types import SessionId

from ..conftest import BOTH_FRONTENDS
from .helpers import SEP, Harness, Start, eventually, get, recv, ws_close_code

pytestmark = BOTH_FRONTENDS  # uvicorn + ASGIApp, and the native front-end

UNSUPPORTED = "Unsupported protocol version"


@dataclass(frozen=True, slots=True)
class Refusal:
    """One request the server must refuse, and the refusal."""

    name: str
    method: str
    query: str  # "{sid}" is replaced by the bystander's sid
    status: int
    code: int
    message: str


REQUEST_REFUSALS = [
    Refusal("missing EIO", "GET", "transport=polling", 400, 5, UNSUPPORTED),
    Refusal("garbage EIO", "GET", "EIO=abc&transport=polling", 400, 5, UNSUPPORTED),
    Refusal("EIO=3", "GET", "EIO=3&transport=polling", 400, 5, UNSUPPORTED),
    Refusal("EIO=5", "GET", "EIO=5&transport=polling", 400, 5, UNSUPPORTED),
    Refusal("EIO=3 with a sid", "GET", "EIO=3&transport=polling&sid={sid}", 400, 5, UNSUPPORTED),
    Refusal("missing transport", "GET", "EIO=4", 400, 0, "Transport unknown"),
    Refusal("unknown transport", "GET", "EIO=4&transport=abc", 400, 0, "Transport unknown"),
    Refusal("__proto__", "GET", "EIO=4&transport=__proto__", 400, 0, "Transport unknown"),
    Refusal("__class__", "GET", "EIO=4&transport=__class__", 400, 0, "Transport unknown"),
    Refusal("constructor", "GET", "EIO=4&transport=constructor", 400, 0, "Transport unknown"),
    Refusal("webtransport", "GET", "EIO=4&transport=webtransport", 400, 0, "Transport unknown"),
    Refusal("POLLING", "GET", "EIO=4&transport=POLLING", 400, 0, "Transport unknown"),
    Refusal("unknown sid", "GET", "EIO=4&transport=polling&sid=nope", 400, 1, "Session ID unknown"),
    Refusal("empty sid", "GET", "EIO=4&transport=polling&sid=", 400, 1, "Session ID unknown"),
    Refusal(
        "__proto__ sid",
        "GET",
        "EIO=4&transport=polling&sid=__proto__",
        400,
        1,
        "Session ID unknown",
    ),
    Refusal(
        "unknown sid POST", "POST", "EIO=4&transport=polling&sid=nope", 400, 1, "Session ID unknown"
    ),
    Refusal("POST handshake", "POST", "EIO=4&transport=polling", 400, 2, "Bad handshake method"),
    Refusal("PUT handshake", "PUT", "EIO=4&transport=polling", 400, 2, "Bad handshake method"),
    Refusal(
        "DELETE handshake", "DELETE", "EIO=4&transport=polling", 400, 2, "Bad handshake method"
    ),
    Refusal("PUT with a sid", "PUT", "EIO=4&transport=polling&sid={sid}", 400, 3, "Bad request"),
    Refusal(
        "DELETE with a sid", "DELETE", "EIO=4&transport=polling&sid={sid}", 400, 3, "Bad request"
    ),
    Refusal("websocket over HTTP", "GET", "EIO=4&transport=websocket", 400, 3, "Bad request"),
    Refusal(
        "websocket sid over HTTP",
        "GET",
        "EIO=4&transport=websocket&sid={sid}",
        400,
        3,
        "Bad request",
    ),
]

WEBSOCKET_REFUSALS = [
    Refusal("transport=polling", "GET", "EIO=4&transport=polling", 400, 3, "Bad request"),
    Refusal(
        "transport=polling with a sid",
        "GET",
        "EIO=4&transport=polling&sid={sid}",
        400,
        3,
        "Bad request",
    ),
    Refusal("EIO=3", "GET", "EIO=3&transport=websocket", 400, 5, UNSUPPORTED),
    Refusal("missing transport", "GET", "EIO=4", 400, 0, "Transport unknown"),
    Refusal("__proto__", "GET", "EIO=4&transport=__proto__", 400, 0, "Transport unknown"),
    Refusal(
        "unknown sid", "GET", "EIO=4&transport=websocket&sid=nope", 400, 1, "Session ID unknown"
    ),
    Refusal(
        "__proto__ sid",
        "GET",
        "EIO=4&transport=websocket&sid=__proto__",
        400,
        1,
        "Session ID unknown",
    ),
]


async def bystander(harness: Harness) -> str:
    """Open the polling session that must survive the test."""
    sid, _ = await harness.open_polling()
    await harness.assert_echoes(sid, "before")
    assert await get(harness.messages) == (sid, "before")
    return sid


async def test_refused_requests(start: Start, subtests: pytest.Subtests) -> None:
    harness = await start()
    sid = await bystander(harness)
    for case in REQUEST_REFUSALS:
        with subtests.test(case.name):
            url = harness.raw_url(case.query.format(sid=sid))
            response = await harness.http.request(case.method, url, content=b"4x")
            harness.assert_refused(response, case.status, case.code, case.message)
            error = await get(harness.errors)
            assert (error.code, error.message) == (case.code, case.message)
            assert error.request.method == case.method
    await harness.assert_echoes(sid, "after the barrage")
    assert await get(harness.messages) == (sid, "after the barrage")
    assert harness.server.clients_count == 1
    assert harness.closes.empty()


async def test_refused_websockets(start: Start, subtests: pytest.Subtests) -> None:
    harness = await start()
    sid = await bystander(harness)
    for case in WEBSOCKET_REFUSALS:
        with subtests.test(case.name):
            response = await harness.ws_refused(harness.raw_ws_url(case.query.format(sid=sid)))
            harness.assert_refused(response, case.status, case.code, case.message)
            assert (await get(harness.errors)).code == case.code
    await harness.assert_echoes(sid, "after the barrage")
    assert await get(harness.messages) == (sid, "after the barrage")
    assert harness.server.clients_count == 1
    assert harness.closes.empty()


# ---- payloads that close the session -------------------------------------------------------

BAD_PAYLOADS: list[tuple[str, bytes, str]] = [
    ("garbage packet type", b"9hello", "unknown packet type '9'"),
    ("letters", b"abc", "unknown packet type 'a'"),
    ("truncated base64", b"bAQIDB", "invalid base64 in binary packet"),
    ("not base64", b"b!!!!", "invalid base64 in binary packet"),
    ("empty body", b"", "empty payload"),
    (
        "invalid UTF-8",
        b"4\xff\xfe",
        "'utf-8' codec can't decode byte 0xff in position 1: invalid start byte",
    ),
    (
        "UTF-8 encoded surrogate",
        b"4\xed\xa0\x80",
        "'utf-8' codec can't decode byte 0xed in position 1: invalid continuation byte",
    ),
    ("two separators", SEP.encode() * 2, "empty packet"),
    ("leading separator", f"{SEP}4a".encode(), "empty packet"),
    ("trailing separator", f"4a{SEP}".encode(), "empty packet"),
    ("doubled separator", f"4a{SEP}{SEP}4b".encode(), "empty packet"),
    ("valid then garbage", f"4a{SEP}4b{SEP}x".encode(), "unknown packet type 'x'"),
    ("too many packets", SEP.join(["4a"] * 4).encode(), "more than 3 packets in one payload"),
]


async def test_bad_payloads_close_only_their_session(
    start: Start, subtests: pytest.Subtests
) -> None:
    harness = await start(max_payload_packets=3)
    sid = await bystander(harness)
    for name, body, message in BAD_PAYLOADS:
        with subtests.test(name):
            victim, _ = await harness.open_polling()
            response = await harness.post(victim, body)
            harness.assert_refused(response, 400, 3, "Bad request")
            closed = await harness.closed(victim)
            assert (closed.reason, closed.description) == ("parse error", message)
            assert (await get(harness.errors)).context == message
            response = await harness.poll(victim)
            harness.assert_refused(response, 400, 1, "Session ID unknown")
            assert (await get(harness.errors)).code == 1
    await harness.assert_echoes(sid, "after the barrage")
    # no message of a refused payload was delivered, not even a valid prefix: the
    # bystander's message, emitted after all of them, is the only one
    assert await get(harness.messages) == (sid, "after the barrage")
    assert harness.messages.empty()
    with subtests.test("exactly max_payload_packets"):
        response = await harness.post(sid, SEP.join(["4a", "4b", "4c"]))
        assert (response.status_code, response.text) == (200, "ok")
        response = await harness.poll(sid)
        assert response.text == SEP.join(["4a", "4b", "4c"])
    assert harness.server.clients_count == 1


# ---- size limits ---------------------------------------------------------------------------


async def test_post_over_max_http_buffer_size_in_one_piece(start: Start) -> None:
    harness = await start(max_http_buffer_size=1000)
    sid = await bystander(harness)
    victim, _ = await harness.open_polling()
    fits = "4" + "x" * 999  # exactly the limit
    response = await harness.post(victim, fits)
    assert (response.status_code, response.text) == (200, "ok")
    assert (await harness.poll(victim)).text == fits
    assert await get(harness.messages) == (victim, fits[1:])

    response = await harness.post(victim, fits + "x")
    assert response.status_code == 413
    assert response.content == b""
    closed = await harness.closed(victim)
    assert (closed.reason, closed.description) == ("transport error", "payload too large")
    response = await harness.poll(victim)
    harness.assert_refused(response, 400, 1, "Session ID unknown")
    await harness.assert_echoes(sid)
    assert harness.messages.qsize() == 1  # the bystander's message only


async def test_streamed_post_over_the_limit_is_cut_short(start: Start) -> None:
    """A 10 MB chunked body against a 1 MB limit: refused long before it is all sent."""
    harness = await start(max_http_buffer_size=1_000_000)
    sid = await bystander(harness)
    victim, _ = await harness.open_polling()
    chunk = b"x" * 65_536
    total = 160 * len(chunk)  # 10 MiB
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b"4"
        while sent < total and harness.closes.empty():
            yield chunk
            sent += len(chunk)
            await asyncio.sleep(0)  # let the server (same event loop) read

    response = await harness.http.post(harness.url(sid=victim), content=body())
    assert response.status_code == 413
    closed = await harness.closed(victim)
    assert (closed.reason, closed.description) == ("transport error", "payload too large")
    assert sent < total // 2, f"the client sent {sent} bytes before the server refused"
    await harness.assert_echoes(sid)
    assert harness.server.clients_count == 1


async def test_websocket_message_over_the_limit(start: Start) -> None:
    harness = await start(max_http_buffer_size=1000)
    sid = await bystander(harness)
    ws, victim, _ = await harness.open_websocket()
    async with ws:
        fits = "4" + "é" * 499  # 999 bytes
        await ws.send(fits)
        assert await recv(ws) == fits
        await ws.send(bytes(1000))  # exactly the limit
        assert await recv(ws) == bytes(1000)
        await ws.send("4" + "é" * 500)  # 1001 bytes, 501 characters
        assert await ws_close_code(ws) == 1009
    closed = await harness.closed(victim)
    assert (closed.reason, closed.description) == ("transport error", "message too large")
    await harness.assert_echoes(sid)

    ws, victim, _ = await harness.open_websocket()
    async with ws:
        await ws.send(bytes(1001))
        assert await ws_close_code(ws) == 1009
    assert (await harness.closed(victim)).reason == "transport error"
    await harness.assert_echoes(sid, "after binary")


# ---- protocol violations -------------------------------------------------------------------


async def test_client_ping_is_a_transport_error(start: Start) -> None:
    harness = await start()
    sid = await bystander(harness)
    victim, _ = await harness.open_polling()
    response = await harness.post(victim, "2")
    assert (response.status_code, response.text) == (200, "ok")
    closed = await harness.closed(victim)
    assert (closed.reason, closed.description) == ("transport error", "invalid heartbeat direction")
    harness.assert_refused(await harness.poll(victim), 400, 1, "Session ID unknown")
    await harness.assert_echoes(sid)

    for packet in ["2", "2probe"]:
        ws, victim, _ = await harness.open_websocket()
        async with ws:
            await ws.send(packet)
            await ws_close_code(ws)
        closed = await harness.closed(victim)
        assert (closed.reason, closed.description) == (
            "transport error",
            "invalid heartbeat direction",
        )
        await harness.assert_echoes(sid, packet)


async def test_duplicate_post_while_one_is_in_flight(start: Start) -> None:
    harness = await start()
    sid = await bystander(harness)
    victim, socket = await harness.open_polling()
    release = asyncio.Event()

    async def slow_body() -> AsyncIterator[bytes]:
        yield b"4first"
        await release.wait()
        yield b"-late"

    first = asyncio.create_task(harness.http.post(harness.url(sid=victim), content=slow_body()))
    # no event says "the server is reading this body": watch the session until it is
    await eventually(lambda: socket.session.post_pending or first.done())
    assert not first.done()

    second = await harness.post(victim, "4second")
    harness.assert_refused(second, 400, 3, "Bad request")
    closed = await harness.closed(victim)
    assert (closed.reason, closed.description) == (
        "transport error",
        "data request overlap from client",
    )
    release.set()
    await first  # JS answers "ok" here and drops the body: the session is gone
    assert SessionId(victim) not in harness.server.sockets
    await harness.assert_echoes(sid)
    # neither POST of the closed session delivered a message (the bystander's came through)
    assert await get(harness.messages) == (sid, "still here")


async def test_websocket_garbage_then_the_server_keeps_serving(start: Start) -> None:
    harness = await start()
    sid = await bystander(harness)
    for garbage in ["", "x", "b!!", "9"]:
        ws, victim, _ = await harness.open_websocket()
        async with ws:
            await ws.send(garbage)
            with pytest.raises(ConnectionClosed):
                await recv(ws)
        assert (await harness.closed(victim)).reason == "parse error"
    await harness.assert_echoes(sid)
