"""EngineServer options and events, over real loopback HTTP and WebSocket connections.

CORS (and the cross-site WebSocket hijacking check), ``allow_request``, ``cookie``, the
``initial_headers``/``headers`` hooks, ``generate_id``, HTTP compression, ``transports``,
``allow_upgrades``, ``upgrade_timeout``, and the events of the server and its sockets with
the close reasons of the JS engine.io server.
"""

from __future__ import annotations

import asyncio
import gzip
import itertools
import json
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest

import socketeer
from socketeer._types import SessionId
from socketeer.server.http import HTTPRequest

from ..conftest import BOTH_FRONTENDS
from .helpers import SEP, Harness, Start, eventually, get, recv, ws_close_code

pytestmark = BOTH_FRONTENDS  # uvicorn + ASGIApp, and the native front-end

REFUSED_ORIGIN = (403, 4, "Not an accepted origin")
ALLOWED = "https://allowed.example"
EVIL = "https://evil.example"


async def assert_ws_refused_origin(harness: Harness, origin: str, **query: str) -> None:
    response = await harness.ws_refused(harness.ws_url(**query), origin=origin)
    harness.assert_refused(response, *REFUSED_ORIGIN)


# ---- CORS ----------------------------------------------------------------------------------


async def test_cors_any_origin(start: Start) -> None:
    harness = await start(cors_allowed_origins="*")
    response = await harness.http.get(harness.url(), headers={"Origin": EVIL})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in response.headers
    assert "vary" not in response.headers
    sid = json.loads(response.text[1:])["sid"]
    post = await harness.http.post(harness.url(sid=sid), content=b"4hi", headers={"Origin": EVIL})
    assert post.headers["access-control-allow-origin"] == "*"
    poll = await harness.http.get(harness.url(sid=sid), headers={"Origin": EVIL})
    assert poll.text == "4hi"
    assert poll.headers["access-control-allow-origin"] == "*"

    preflight = await harness.http.options(
        harness.url(),
        headers={
            "Origin": EVIL,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-custom",
        },
    )
    assert preflight.status_code == 204
    assert preflight.content == b""
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert preflight.headers["access-control-allow-methods"] == "GET, POST, OPTIONS"
    assert preflight.headers["access-control-allow-headers"] == "content-type, x-custom"

    async with harness.websocket_from(EVIL) as ws:
        assert str(await recv(ws)).startswith("0")


async def test_cors_list_of_origins(start: Start) -> None:
    harness = await start(cors_allowed_origins=[ALLOWED, "https://other.example"])
    sid, _ = await harness.handshake()
    response = await harness.http.get(harness.url(), headers={"Origin": ALLOWED})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert response.headers["vary"] == "Origin"
    assert "access-control-allow-credentials" not in response.headers

    refused = await harness.http.get(harness.url(), headers={"Origin": EVIL})
    harness.assert_refused(refused, *REFUSED_ORIGIN)
    error = await get(harness.errors)
    assert (error.code, error.message) == (4, "Not an accepted origin")
    assert error.request.headers["origin"] == EVIL

    # an existing session cannot be read or written from a refused origin either
    for method in ("GET", "POST"):
        response = await harness.http.request(
            method, harness.url(sid=sid), content=b"4x", headers={"Origin": EVIL}
        )
        harness.assert_refused(response, *REFUSED_ORIGIN)
    preflight = await harness.http.options(
        harness.url(), headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"}
    )
    harness.assert_refused(preflight, *REFUSED_ORIGIN)

    await assert_ws_refused_origin(harness, EVIL)
    await assert_ws_refused_origin(harness, EVIL, sid=sid)
    async with harness.websocket_from(ALLOWED) as ws:
        assert str(await recv(ws)).startswith("0")
    await harness.assert_echoes(sid)
    assert harness.messages.qsize() == 1  # nothing from the refused POST


async def test_refused_origin_is_not_echoed(start: Start) -> None:
    """A refusal of an origin must not carry CORS headers that allow that origin."""
    harness = await start(cors_allowed_origins=[ALLOWED])
    sid, _ = await harness.handshake()
    responses = {
        "handshake": await harness.http.get(harness.url(), headers={"Origin": EVIL}),
        "poll": await harness.http.get(harness.url(sid=sid), headers={"Origin": EVIL}),
        "preflight": await harness.http.options(
            harness.url(), headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"}
        ),
        "websocket": await harness.ws_refused(harness.ws_url(), origin=EVIL),
    }
    echoed = {
        name: response.headers.get("access-control-allow-origin")
        for name, response in responses.items()
        if response.status_code != 403 or "access-control-allow-origin" in response.headers
    }
    assert echoed == {}


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_cors_callable(start: Start, kind: str) -> None:
    seen: list[str] = []

    def check(origin: str) -> bool:
        seen.append(origin)
        return origin.endswith(".allowed.example")

    async def check_async(origin: str) -> bool:
        await asyncio.sleep(0)
        return check(origin)

    harness = await start(cors_allowed_origins=check if kind == "sync" else check_async)
    good = "https://app.allowed.example"
    response = await harness.http.get(harness.url(), headers={"Origin": good})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == good
    refused = await harness.http.get(harness.url(), headers={"Origin": EVIL})
    harness.assert_refused(refused, *REFUSED_ORIGIN)
    await assert_ws_refused_origin(harness, EVIL)
    async with harness.websocket_from(good) as ws:
        assert str(await recv(ws)).startswith("0")
    assert seen == [good, EVIL, EVIL, good]


async def test_cors_credentials(start: Start) -> None:
    harness = await start(cors_allowed_origins="*", cors_credentials=True)
    response = await harness.http.get(harness.url(), headers={"Origin": ALLOWED})
    assert response.status_code == 200
    # "*" is not allowed with credentials: the origin is echoed instead
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.headers["vary"] == "Origin"
    preflight = await harness.http.options(
        harness.url(), headers={"Origin": ALLOWED, "Access-Control-Request-Method": "GET"}
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-credentials"] == "true"
    assert "access-control-allow-headers" not in preflight.headers


async def test_cors_options_object(start: Start) -> None:
    cors = socketeer.CorsOptions(
        origins=[ALLOWED], methods=("GET", "POST"), headers=("x-token",), max_age=600
    )
    harness = await start(cors=cors)
    preflight = await harness.http.options(
        harness.url(),
        headers={
            "Origin": ALLOWED,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-other",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-methods"] == "GET, POST"
    assert preflight.headers["access-control-allow-headers"] == "x-token"
    assert preflight.headers["access-control-max-age"] == "600"
    refused = await harness.http.get(harness.url(), headers={"Origin": EVIL})
    harness.assert_refused(refused, *REFUSED_ORIGIN)


async def test_same_origin_by_default(start: Start, subtests: pytest.Subtests) -> None:
    """Without CORS options only the server's own origin may talk to it, WebSocket included:
    a page elsewhere cannot hijack a user's session (cross-site WebSocket hijacking)."""
    harness = await start()
    own = harness.base_url  # http://127.0.0.1:<port>
    port = own.rsplit(":", 1)[1]
    sid, _ = await harness.handshake()

    with subtests.test("own origin"):
        response = await harness.http.get(harness.url(), headers={"Origin": own})
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == own
        async with harness.websocket_from(own) as ws:
            assert str(await recv(ws)).startswith("0")
    with subtests.test("no origin (not a browser)"):
        async with harness.websocket() as ws:
            assert str(await recv(ws)).startswith("0")
    refused = [
        EVIL,
        f"http://localhost:{port}",
        "http://127.0.0.1:1",
        f"https://127.0.0.1:{port}",
        f"ws://127.0.0.1:{port}",
        "null",
    ]
    for origin in refused:
        with subtests.test(origin):
            response = await harness.http.get(harness.url(), headers={"Origin": origin})
            harness.assert_refused(response, *REFUSED_ORIGIN)
            response = await harness.http.get(harness.url(sid=sid), headers={"Origin": origin})
            harness.assert_refused(response, *REFUSED_ORIGIN)
            await assert_ws_refused_origin(harness, origin)
            await assert_ws_refused_origin(harness, origin, sid=sid)
    await harness.assert_echoes(sid)


# ---- allow_request -------------------------------------------------------------------------


async def test_allow_request(start: Start, subtests: pytest.Subtests) -> None:
    calls: list[tuple[str, str | None]] = []

    def verdict(request: HTTPRequest) -> bool | str:
        calls.append((request.query["transport"], request.query.get("sid")))
        answer = request.headers.get("x-verdict", "yes")
        return True if answer == "yes" else False if answer == "no" else answer

    def allow(request: HTTPRequest) -> bool | str | Awaitable[bool | str]:
        if "x-async" not in request.headers:
            return verdict(request)

        async def later() -> bool | str:
            await asyncio.sleep(0)
            return verdict(request)

        return later()

    harness = await start(allow_request=allow)
    for mode in ("sync", "async"):
        headers = {"x-async": "1"} if mode == "async" else {}
        with subtests.test(f"{mode} True"):
            sid, _ = await harness.handshake(**headers, **{"x-verdict": "yes"})
            await harness.assert_echoes(sid)  # not asked again for requests of the session
        with subtests.test(f"{mode} False"):
            response = await harness.http.get(harness.url(), headers={**headers, "x-verdict": "no"})
            harness.assert_refused(response, 403, 4, "Forbidden")
            error = await get(harness.errors)
            assert (error.code, error.message) == (4, "Forbidden")
            ws_response = await harness.ws_refused(
                harness.ws_url(), additional_headers={**headers, "x-verdict": "no"}
            )
            harness.assert_refused(ws_response, 403, 4, "Forbidden")
        with subtests.test(f"{mode} message"):
            response = await harness.http.get(
                harness.url(), headers={**headers, "x-verdict": "go away"}
            )
            harness.assert_refused(response, 403, 4, "go away")
    assert harness.server.clients_count == 2
    assert all(sid is None for _, sid in calls)  # only handshakes are checked
    assert len(calls) == 8


# ---- cookie, header hooks, ids -------------------------------------------------------------


async def test_cookie_on_the_handshake_only(start: Start) -> None:
    harness = await start(cookie=True)
    response = await harness.http.get(harness.url())
    sid = json.loads(response.text[1:])["sid"]
    assert response.headers.get_list("set-cookie") == [f"io={sid}; Path=/; HttpOnly; SameSite=Lax"]
    post = await harness.post(sid, "4x")
    poll = await harness.poll(sid)
    assert poll.text == "4x"
    assert "set-cookie" not in post.headers
    assert "set-cookie" not in poll.headers
    ws, ws_sid, _ = await harness.open_websocket()
    async with ws:
        assert ws.response is not None
        assert ws.response.headers.get_all("Set-Cookie") == [
            f"io={ws_sid}; Path=/; HttpOnly; SameSite=Lax"
        ]
    async with harness.websocket(sid=sid) as probe:
        assert probe.response is not None
        assert probe.response.headers.get_all("Set-Cookie") == []


async def test_custom_cookie(start: Start) -> None:
    cookie = socketeer.CookieOptions(
        name="sess", path="/app", httponly=False, samesite="Strict", secure=True
    )
    harness = await start(cookie=cookie)
    response = await harness.http.get(harness.url())
    sid = json.loads(response.text[1:])["sid"]
    assert response.headers["set-cookie"] == f"sess={sid}; Path=/app; SameSite=Strict; Secure"


async def test_initial_headers_and_headers_hooks(start: Start) -> None:
    harness = await start()
    seen: list[tuple[str, str]] = []

    @harness.server.on("initial_headers")
    def initial(headers: dict[str, str], request: HTTPRequest) -> None:
        seen.append(("initial", request.query["transport"]))
        headers["X-Initial"] = "1"

    @harness.server.on("headers")
    def every(headers: dict[str, str], request: HTTPRequest) -> None:
        seen.append(("every", request.method))
        headers["X-Every"] = request.query["transport"]

    response = await harness.http.get(harness.url())
    assert response.headers["x-initial"] == "1"
    assert response.headers["x-every"] == "polling"
    assert "set-cookie" not in response.headers  # no cookie unless asked for
    sid = json.loads(response.text[1:])["sid"]
    post = await harness.post(sid, "4x")
    poll = await harness.poll(sid)
    for later in (post, poll):
        assert "x-initial" not in later.headers
        assert later.headers["x-every"] == "polling"
    assert seen == [("initial", "polling"), ("every", "GET"), ("every", "POST"), ("every", "GET")]

    seen.clear()
    ws, _, _ = await harness.open_websocket()
    async with ws:
        assert ws.response is not None
        assert ws.response.headers["X-Initial"] == "1"
        assert ws.response.headers["X-Every"] == "websocket"
    async with harness.websocket(sid=sid) as probe:
        assert probe.response is not None
        assert "X-Initial" not in probe.response.headers
        assert probe.response.headers["X-Every"] == "websocket"
    assert seen == [("initial", "websocket"), ("every", "GET"), ("every", "GET")]

    refused = await harness.http.get(harness.url(sid="nope"))
    assert refused.status_code == 400


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_generate_id(start: Start, kind: str) -> None:
    counter = itertools.count(1)

    def make() -> str:
        return f"custom-{next(counter)}"

    async def make_async() -> str:
        await asyncio.sleep(0)
        return make()

    harness = await start(generate_id=make if kind == "sync" else make_async)
    sid, socket = await harness.open_polling()
    assert sid == socket.sid == "custom-1"
    ws, ws_sid, ws_socket = await harness.open_websocket()
    async with ws:
        assert ws_sid == ws_socket.sid == "custom-2"
    await harness.assert_echoes(sid)


# ---- compression ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RawResponse:
    status_code: int
    headers: httpx.Headers
    content: bytes  # as sent, not decoded


async def raw_poll(harness: Harness, sid: str, accept: str | None) -> RawResponse:
    """A poll with exactly this Accept-Encoding (None: no header); the body left undecoded."""
    request = harness.http.build_request("GET", harness.url(sid=sid))
    del request.headers["accept-encoding"]
    if accept is not None:
        request.headers["accept-encoding"] = accept
    response = await harness.http.send(request, stream=True)
    try:
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
    finally:
        await response.aclose()
    return RawResponse(response.status_code, response.headers, raw)


async def test_http_compression(start: Start, subtests: pytest.Subtests) -> None:
    harness = await start()
    sid, _ = await harness.open_polling()
    big = "4" + "compress me " * 100  # over the 1024-byte threshold
    cases: list[tuple[str, str | None, str, str | None, Callable[[bytes], bytes] | None]] = [
        ("gzip", "gzip, deflate", big, "gzip", gzip.decompress),
        ("deflate", "deflate", big, "deflate", zlib.decompress),
        ("gzip with q-values", "br;q=1.0, gzip;q=0.5", big, "gzip", gzip.decompress),
        ("below the threshold", "gzip, deflate", "4" + "x" * 1000, None, None),
        ("no Accept-Encoding", None, big, None, None),
        ("identity", "identity", big, None, None),
    ]
    for name, accept, text, encoding, decompress in cases:
        with subtests.test(name):
            await harness.post(sid, text)
            response = await raw_poll(harness, sid, accept)
            assert response.status_code == 200
            assert response.headers.get("content-encoding") == encoding
            assert int(response.headers["content-length"]) == len(response.content)
            body = response.content if decompress is None else decompress(response.content)
            assert body.decode() == text
            if decompress is not None:
                assert len(response.content) < len(text)


async def test_http_compression_off(start: Start) -> None:
    harness = await start(http_compression=False)
    sid, _ = await harness.open_polling()
    await harness.post(sid, "4" + "x" * 5000)
    response = await raw_poll(harness, sid, "gzip")
    assert "content-encoding" not in response.headers
    assert response.content == ("4" + "x" * 5000).encode()


async def test_compression_threshold(start: Start) -> None:
    harness = await start(compression_threshold=10)
    sid, _ = await harness.open_polling()
    await harness.post(sid, "4" + "y" * 9)  # exactly 10 bytes: compressed
    response = await raw_poll(harness, sid, "gzip")
    assert response.headers["content-encoding"] == "gzip"
    assert gzip.decompress(response.content) == b"4" + b"y" * 9
    await harness.post(sid, "4" + "y" * 8)
    response = await raw_poll(harness, sid, "gzip")
    assert "content-encoding" not in response.headers


# ---- transports and upgrades ---------------------------------------------------------------


async def test_websocket_only(start: Start) -> None:
    harness = await start(transports=("websocket",))
    response = await harness.http.get(harness.url())
    harness.assert_refused(response, 400, 0, "Transport unknown")
    ws, _, _ = await harness.open_websocket()
    async with ws:
        await ws.send("4hi")
        assert await recv(ws) == "4hi"


async def test_polling_only(start: Start) -> None:
    harness = await start(transports=("polling",))
    sid, data = await harness.handshake()
    assert data["upgrades"] == []
    for query in ({}, {"sid": sid}):
        response = await harness.ws_refused(harness.ws_url(**query))
        harness.assert_refused(response, 400, 0, "Transport unknown")
    await harness.assert_echoes(sid)


async def test_allow_upgrades_false(start: Start) -> None:
    harness = await start(allow_upgrades=False)
    sid, data = await harness.handshake()
    assert data["upgrades"] == []
    response = await harness.ws_refused(harness.ws_url(sid=sid))
    harness.assert_refused(response, 400, 3, "Bad request")
    await harness.assert_echoes(sid)
    assert harness.upgradings.empty()
    ws, _, _ = await harness.open_websocket()  # a WebSocket session of its own is fine
    async with ws:
        await ws.send("4ws")
        assert await recv(ws) == "4ws"


# ---- upgrade timeout -----------------------------------------------------------------------


async def test_upgrade_timeout(start: Start) -> None:
    harness = await start(upgrade_timeout=0.3)
    sid, socket = await harness.open_polling()
    async with harness.websocket(sid=sid) as ws:
        # never sends 2probe: the server drops this WebSocket once upgrade_timeout passes
        await ws_close_code(ws, within=3)
    assert socket.transport == "polling"
    await harness.assert_echoes(sid, "after a silent probe")

    async with harness.websocket(sid=sid) as ws:
        await ws.send("2probe")
        assert await recv(ws) == "3probe"
        socket.send("queued")
        await ws_close_code(ws, within=3)  # never sends 5
    assert socket.transport == "polling"
    poll = await harness.poll(sid)
    assert poll.text == "4queued"  # held during the probe, delivered over polling
    await harness.assert_echoes(sid, "after an unfinished upgrade")
    assert harness.upgrades.empty()
    assert not harness.is_closed(sid)


# ---- events and close reasons --------------------------------------------------------------


async def connection_event(harness: Harness) -> None:
    count = harness.server.clients_count
    response = await harness.http.get(harness.url(foo="bar"), headers={"X-Hello": "world"})
    sid = json.loads(response.text[1:])["sid"]
    socket = await harness.socket_of(sid)
    assert socket.transport == "polling"
    assert socket.request.method == "GET"
    assert socket.request.path == "/engine.io/"
    assert socket.request.query["foo"] == "bar"
    assert socket.request.headers["x-hello"] == "world"
    assert socket.request.client is not None
    assert socket.request.client[0] == "127.0.0.1"
    assert harness.server.clients_count == count + 1
    ws, ws_sid, ws_socket = await harness.open_websocket()
    async with ws:
        assert ws_socket.transport == "websocket"
        assert ws_socket.request.query["transport"] == "websocket"
        assert harness.server.clients_count == count + 2
    await harness.closed(ws_sid)
    assert harness.server.clients_count == count + 1


async def message_event_text_and_binary(harness: Harness) -> None:
    sid, _ = await harness.open_polling()
    await harness.post(sid, f"4text{SEP}bAQIDBA=={SEP}4{SEP}b")
    assert [await get(harness.messages) for _ in range(4)] == [
        (sid, "text"),
        (sid, b"\x01\x02\x03\x04"),
        (sid, ""),
        (sid, b""),
    ]
    assert (await harness.poll(sid)).text == f"4text{SEP}bAQIDBA=={SEP}4{SEP}b"
    ws, ws_sid, _ = await harness.open_websocket()
    async with ws:
        await ws.send("4héllo")
        await ws.send(b"\xff\x00")
        assert await get(harness.messages) == (ws_sid, "héllo")
        assert await get(harness.messages) == (ws_sid, b"\xff\x00")
        assert await recv(ws) == "4héllo"
        assert await recv(ws) == b"\xff\x00"


async def close_reason_transport_close(harness: Harness) -> None:
    sid, _ = await harness.open_polling()
    await harness.post(sid, "1")
    assert (await harness.closed(sid)).reason == "transport close"
    ws, ws_sid, _ = await harness.open_websocket()
    await ws.close()  # the client just closes the WebSocket
    assert (await harness.closed(ws_sid)).reason == "transport close"
    assert SessionId(sid) not in harness.server.sockets
    assert SessionId(ws_sid) not in harness.server.sockets


async def close_reason_forced_close_with_a_held_poll(harness: Harness) -> None:
    sid, socket = await harness.open_polling()
    held = await harness.held_poll(sid)
    socket.close()
    response = await held
    assert response.text == "1"
    assert (await harness.closed(sid)).reason == "forced close"
    assert not socket.send("too late")
    harness.assert_refused(await harness.poll(sid), 400, 1, "Session ID unknown")


async def close_reason_forced_close_before_the_next_poll(harness: Harness) -> None:
    sid, socket = await harness.open_polling()
    assert socket.send("bye")
    socket.close()
    assert not harness.is_closed(sid)  # waits for the next poll to deliver the close packet
    response = await harness.poll(sid)
    assert response.text == "4bye"  # queued messages first, as the JS server ...
    assert not harness.is_closed(sid)
    response = await harness.poll(sid)
    assert response.text == "1"  # ... then the close packet in a poll of its own
    assert (await harness.closed(sid)).reason == "forced close"
    await asyncio.wait_for(socket.wait_closed(), 5)


async def close_reason_forced_close_on_websocket(harness: Harness) -> None:
    ws, sid, socket = await harness.open_websocket()
    async with ws:
        socket.send("bye")
        socket.close()
        assert await recv(ws) == "4bye"
        assert await ws_close_code(ws) == 1000
    assert (await harness.closed(sid)).reason == "forced close"


async def held_poll_client_disconnect_is_a_transport_error(harness: Harness) -> None:
    sid, socket = await harness.open_polling()
    host, port = harness.base_url.removeprefix("http://").split(":")
    _, writer = await asyncio.open_connection(host, int(port))
    try:
        target = harness.url(sid=sid).removeprefix(harness.base_url)
        writer.write(f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        await writer.drain()
        # no event says "the poll is held": watch the session until it is
        await eventually(lambda: socket.session.poll_pending)
    finally:
        writer.close()
        await writer.wait_closed()
    closed = await harness.closed(sid)
    assert (closed.reason, closed.description) == (
        "transport error",
        "poll connection closed prematurely",
    )


async def drain_event(harness: Harness) -> None:
    sid, socket = await harness.open_polling()
    held = await harness.held_poll(sid)
    socket.send("a")
    assert await harness.drained(sid)
    assert (await held).text == "4a"
    ws, ws_sid, ws_socket = await harness.open_websocket()
    async with ws:
        ws_socket.send_many(["x", "y"])
        assert await harness.drained(ws_sid)
        assert [await recv(ws), await recv(ws)] == ["4x", "4y"]


async def upgrading_and_upgrade_events(harness: Harness) -> None:
    sid, socket = await harness.open_polling()
    assert socket.transport == "polling"
    held = await harness.held_poll(sid)
    async with harness.websocket(sid=sid) as ws:
        await ws.send("2probe")
        assert await recv(ws) == "3probe"
        assert await get(harness.upgradings) == (sid, "websocket")
        response = await held  # the pending poll is ended with a noop
        assert (response.status_code, response.text) == (200, "6")
        assert socket.send("during the upgrade")
        assert (await harness.poll(sid)).text == "6"  # still nothing over polling
        assert socket.transport == "polling"
        await ws.send("5")
        assert await harness.upgraded(sid)
        assert socket.transport == "websocket"
        assert await recv(ws) == "4during the upgrade"  # flushed over the WebSocket
        socket.send(b"\x00\x01")
        assert await recv(ws) == b"\x00\x01"
        await ws.send("4after")
        assert await recv(ws) == "4after"
    assert (await harness.closed(sid)).reason == "transport close"


async def failed_probe_keeps_the_session(harness: Harness) -> None:
    sid, socket = await harness.open_polling()
    async with harness.websocket(sid=sid) as ws:
        await ws.send("4not a probe")
        await ws_close_code(ws)
    assert socket.transport == "polling"
    await harness.assert_echoes(sid)
    async with await harness.upgrade(sid) as ws2:  # a new probe still works
        await ws2.send("4up")
        assert await recv(ws2) == "4up"


async def test_session_events(start: Start, subtests: pytest.Subtests) -> None:
    harness = await start()
    cases = [
        connection_event,
        message_event_text_and_binary,
        close_reason_transport_close,
        close_reason_forced_close_with_a_held_poll,
        close_reason_forced_close_before_the_next_poll,
        close_reason_forced_close_on_websocket,
        held_poll_client_disconnect_is_a_transport_error,
        drain_event,
        upgrading_and_upgrade_events,
        failed_probe_keeps_the_session,
    ]
    for case in cases:
        with subtests.test(case.__name__.replace("_", " ")):
            await case(harness)


async def test_connection_handler_runs_before_messages(start: Start) -> None:
    """An async connection handler finishes before the session's first message is seen."""
    harness = await start(echo=False)
    order: list[str] = []
    release = asyncio.Event()

    @harness.server.on("connection")
    async def slow(socket: socketeer.EngineSocket) -> None:
        socket.on("message", lambda data: order.append(f"message {data}"))
        await release.wait()
        order.append("connected")

    async with harness.websocket() as ws:
        data = await recv(ws)
        assert isinstance(data, str)
        sid = json.loads(data[1:])["sid"]
        await harness.socket_of(sid)  # the recording handler ran first
        await ws.send("4first")  # sent while the slow handler still runs
        release.set()
        assert await get(harness.messages) == (sid, "first")
    assert order == ["connected", "message first"]


async def test_close_reason_server_shutting_down(start: Start) -> None:
    harness = await start()
    held_sid, _ = await harness.open_polling()
    idle_sid, _ = await harness.open_polling()
    held = await harness.held_poll(held_sid)
    ws, ws_sid, _ = await harness.open_websocket()
    async with ws:
        await harness.server.close()
        assert (await held).text == "1"
        assert await ws_close_code(ws) == 1000
    for sid in (held_sid, idle_sid, ws_sid):
        assert (await harness.closed(sid)).reason == "server shutting down"
    assert harness.server.clients_count == 0
    response = await harness.http.get(harness.url())
    harness.assert_refused(response, 400, 3, "Bad request")
    response = await harness.ws_refused(harness.ws_url())
    harness.assert_refused(response, 400, 3, "Bad request")


async def test_handler_errors_do_not_break_the_session(start: Start) -> None:
    harness = await start()

    @harness.server.on("connection")
    def broken(socket: socketeer.EngineSocket) -> None:
        socket.on("message", lambda data: 1 / 0)
        raise RuntimeError("user bug")

    sid, _ = await harness.open_polling()
    await harness.assert_echoes(sid)
