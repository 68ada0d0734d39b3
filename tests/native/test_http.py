"""The native front-end over raw loopback sockets: HTTP/1.1, the WebSocket switch, limits.

What the Engine.IO conformance, bad-input and interop suites already check against both
front-ends is not repeated here; these tests pin what only the native front-end does:
keep-alive and pipelining, request limits, the opening handshake's checks, frames on the
wire, write coalescing, flow control and shutdown.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

import socketeer
from socketeer._types import SessionId
from socketeer.native import serve
from socketeer.native.http import serialize_response
from socketeer.server.http import HTTPResponse

from ..conftest import NativeServers
from .helpers import (
    POLL,
    WS,
    Conn,
    Echo,
    accept_key,
    client_frame,
    open_sid,
    ws_close,
    ws_text,
)

Start = Callable[..., Awaitable[tuple[Echo, str]]]


@pytest.fixture
def start(serve_native: NativeServers) -> Start:
    """``echo, url = await start(engine_options=..., **native options)``."""

    async def start_server(
        engine_options: dict[str, Any] | None = None, **options: Any
    ) -> tuple[Echo, str]:
        echo = Echo(socketeer.EngineServer(**(engine_options or {})))
        return echo, await serve_native(echo.server, **options)

    return start_server


Connect = Callable[[str], Awaitable[Conn]]


@pytest.fixture
async def connect(serve_native: NativeServers) -> AsyncIterator[Connect]:
    """``conn = await connect(url)``: a raw connection, closed at teardown (before the
    servers stop)."""
    conns: list[Conn] = []

    async def open_conn(url: str) -> Conn:
        conn = await Conn.open(url)
        conns.append(conn)
        return conn

    yield open_conn
    for conn in conns:
        await conn.close()


# ---- HTTP/1.1 ---------------------------------------------------------------------------------


async def test_keep_alive_serves_a_session_on_one_connection(
    start: Start, connect: Connect
) -> None:
    _echo, url = await start()
    conn = await connect(url)
    sid = open_sid(await conn.call("GET", POLL))
    response = await conn.call("POST", f"{POLL}&sid={sid}", b"4hello")
    assert (response.status, response.text) == (200, "ok")
    assert "connection" not in response.headers
    assert "date" in response.headers
    response = await conn.call("GET", f"{POLL}&sid={sid}")
    assert (response.status, response.text) == (200, "4hello")
    assert response.headers["content-type"] == "text/plain; charset=UTF-8"
    await conn.close()


async def test_pipelined_requests_are_answered_in_order(start: Start, connect: Connect) -> None:
    _, url = await start()
    conn = await connect(url)
    conn.send(
        conn.request("GET", POLL)
        + conn.request("GET", "/elsewhere")
        + conn.request("OPTIONS", POLL, headers={"Origin": "http://x.example"})
        + conn.request("HEAD", "/elsewhere")
        + conn.request("POST", f"{POLL}&sid=nope", b"4x")
    )
    assert (await conn.response()).text.startswith("0{")
    assert (await conn.response()).status == 404
    assert (await conn.response()).status == 403  # not the same origin (the engine's decision)
    head = await conn.response(head=True)
    assert (head.status, head.headers["content-length"]) == (404, "9")
    refused = await conn.response()
    assert (refused.status, json.loads(refused.body)["code"]) == (400, 1)
    assert (await conn.call("GET", "/again")).status == 404  # still open
    await conn.close()


async def test_too_many_pipelined_requests_close_the_connection(
    start: Start, connect: Connect
) -> None:
    _, url = await start(max_pipelined=2)
    conn = await connect(url)
    conn.send(b"".join(conn.request("GET", f"/r{i}") for i in range(6)))
    for _ in range(3):  # one served, two waiting
        assert (await conn.response()).status == 404
    assert await conn.eof() == b""


async def test_not_found_and_head(start: Start, connect: Connect) -> None:
    _, url = await start()
    conn = await connect(url)
    response = await conn.call("GET", "/other")
    assert (response.status, response.text) == (404, "Not Found")
    response = await conn.call("HEAD", "/engine.io/extra")
    assert (response.status, response.body) == (404, b"")
    response = await conn.call("GET", "/engine.io?EIO=4&transport=polling")  # no final slash
    assert response.status == 200
    await conn.close()


async def test_expect_100_continue(start: Start, connect: Connect) -> None:
    _echo, url = await start()
    conn = await connect(url)
    sid = open_sid(await conn.call("GET", POLL))
    conn.send(
        conn.request("POST", f"{POLL}&sid={sid}", headers={"Expect": "100-continue"})[:-2]
        + b"Content-Length: 3\r\n\r\n"
    )
    interim = await conn.reader.readuntil(b"\r\n\r\n")
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    conn.send(b"4hi")
    assert (await conn.response()).text == "ok"
    assert (await conn.call("GET", f"{POLL}&sid={sid}")).text == "4hi"
    await conn.close()


async def test_chunked_body(start: Start, connect: Connect) -> None:
    _, url = await start()
    conn = await connect(url)
    sid = open_sid(await conn.call("GET", POLL))
    head = conn.request("POST", f"{POLL}&sid={sid}", headers={"Transfer-Encoding": "chunked"})
    conn.send(head + b"2\r\n4c\r\n4\r\nhunk\r\n0\r\n\r\n")
    assert (await conn.response()).text == "ok"
    assert (await conn.call("GET", f"{POLL}&sid={sid}")).text == "4chunk"
    await conn.close()


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_body_over_the_limit_is_refused_before_it_is_sent(
    start: Start, framing: str, connect: Connect
) -> None:
    """413 after the first 2 KB of a declared 10 MB body; the rest is never sent."""
    echo, url = await start(engine_options={"max_http_buffer_size": 1000})
    conn = await connect(url)
    sid = open_sid(await conn.call("GET", POLL))
    if framing == "chunked":
        headers = {"Transfer-Encoding": "chunked"}
        first = b"800\r\n4" + b"x" * 2047 + b"\r\n"
    else:
        headers = {"Content-Length": str(10_000_000)}
        first = b"4" + b"x" * 2047
    conn.send(conn.request("POST", f"{POLL}&sid={sid}", headers=headers) + first)
    response = await conn.response()
    assert response.status == 413
    assert response.headers["connection"] == "close"
    assert await echo.closed(sid) == ("transport error", "payload too large")
    assert await conn.eof() == b""


async def test_body_over_the_limit_in_a_pipelined_request(start: Start, connect: Connect) -> None:
    echo, url = await start(engine_options={"max_http_buffer_size": 10})
    conn = await connect(url)
    sid = open_sid(await conn.call("GET", POLL))
    conn.send(
        conn.request("GET", "/first") + conn.request("POST", f"{POLL}&sid={sid}", b"4" + b"y" * 20)
    )
    assert (await conn.response()).status == 404
    assert (await conn.response()).status == 413
    assert await conn.eof() == b""
    assert (await echo.closed(sid))[1] == "payload too large"


@pytest.mark.parametrize(
    ("extra", "status"),
    [
        ({"X-Big": "a" * 20_000}, 431),
        ({f"X-{i}": "v" for i in range(101)}, 431),
    ],
)
async def test_request_head_limits(
    start: Start, extra: dict[str, str], status: int, connect: Connect
) -> None:
    _, url = await start()
    conn = await connect(url)
    conn.send(conn.request("GET", POLL, headers=extra))
    response = await conn.response()
    assert (response.status, response.text) == (status, "Request Header Fields Too Large")
    assert response.headers["connection"] == "close"
    assert await conn.eof() == b""


async def test_long_url(start: Start, connect: Connect) -> None:
    _, url = await start(max_header_size=1000)
    conn = await connect(url)
    conn.send(conn.request("GET", "/" + "u" * 2000))
    assert (await conn.response()).status == 431
    assert await conn.eof() == b""


async def test_garbage_is_a_bad_request(start: Start, connect: Connect) -> None:
    _, url = await start()
    conn = await connect(url)
    conn.send(conn.request("GET", "/first") + b"NOT HTTP AT ALL\r\n\r\n")
    assert (await conn.response()).status == 404  # the good request before it is served
    response = await conn.response()
    assert (response.status, response.headers["connection"]) == (400, "close")
    assert await conn.eof() == b""


async def test_garbage_in_a_body_being_read(start: Start, connect: Connect) -> None:
    echo, url = await start()
    conn = await connect(url)
    sid = open_sid(await conn.call("GET", POLL))
    head = conn.request("POST", f"{POLL}&sid={sid}", headers={"Transfer-Encoding": "chunked"})
    conn.send(head + b"2\r\n4a\r\n")
    await asyncio.sleep(0.05)  # the engine is now reading the body
    conn.send(b"zz-not-a-chunk-size\r\n")
    response = await conn.response()
    assert response.status == 400
    assert await echo.closed(sid) == ("transport error", "post connection closed prematurely")
    assert await conn.eof() == b""


@pytest.mark.parametrize(("version", "headers"), [("1.0", {}), ("1.1", {"Connection": "close"})])
async def test_connection_close(
    start: Start, version: str, headers: dict[str, str], connect: Connect
) -> None:
    _, url = await start()
    conn = await connect(url)
    conn.send(conn.request("GET", POLL, headers=headers, version=version))
    response = await conn.response()
    assert (response.status, response.headers["connection"]) == (200, "close")
    assert await conn.eof() == b""


async def test_idle_keep_alive_connection_is_closed(start: Start, connect: Connect) -> None:
    _, url = await start(keep_alive_timeout=0.1)
    conn = await connect(url)
    assert (await conn.call("GET", "/x")).status == 404
    assert await conn.eof() == b""
    conn = await connect(url)
    assert await conn.eof() == b""  # never sent anything


async def test_slow_request_is_dropped(start: Start, connect: Connect) -> None:
    _, url = await start(request_timeout=0.1)
    conn = await connect(url)
    conn.send(b"GET /slow HTTP/1.1\r\nHost: x\r\n")  # never finished
    assert await conn.eof() == b""


async def test_held_poll_is_not_timed_out(start: Start, connect: Connect) -> None:
    _echo, url = await start(
        keep_alive_timeout=0.05,
        request_timeout=0.05,
        engine_options={"ping_interval": 0.3, "ping_timeout": 5},
    )
    conn = await connect(url)
    sid = open_sid(await conn.call("GET", POLL))
    response = await conn.call("GET", f"{POLL}&sid={sid}")  # held until the ping
    assert response.text == "2"
    await conn.close()


async def test_other_upgrades_are_served_as_http(start: Start, connect: Connect) -> None:
    _, url = await start()
    conn = await connect(url)
    conn.send(conn.request("GET", POLL, headers={"Connection": "Upgrade", "Upgrade": "h2c"}))
    response = await conn.response()
    assert response.text.startswith("0{")
    assert response.headers["connection"] == "close"
    assert await conn.eof() == b""
    # with a body (which the parser skips on an upgrade): refused
    conn = await connect(url)
    headers = {"Connection": "Upgrade", "Upgrade": "h2c"}
    conn.send(conn.request("POST", f"{POLL}&sid=x", b"4body", headers=headers))
    assert (await conn.response()).status == 400
    assert await conn.eof() == b""


async def test_server_error_is_a_500(
    start: Start, serve_native: NativeServers, connect: Connect
) -> None:
    def broken(request: object) -> bool:
        raise RuntimeError("user bug")

    _, url = await start(engine_options={"allow_request": broken})
    conn = await connect(url)
    assert (await conn.call("GET", POLL)).status == 500
    assert (await conn.call("GET", "/still-serving")).status == 404
    await conn.close()
    conn = await connect(url)
    conn.send(conn.ws_request(WS))
    response = await conn.response()
    assert (response.status, response.headers["connection"]) == (500, "close")
    assert await conn.eof() == b""
    assert [r.getMessage() for r in serve_native.errors.records] == [
        "error while serving GET /engine.io/",
        "error while serving a WebSocket on /engine.io/",
    ]
    serve_native.errors.records.clear()  # expected


async def test_header_injection_is_dropped(
    start: Start, serve_native: NativeServers, connect: Connect
) -> None:
    echo, url = await start()

    @echo.server.on("headers")
    def headers(headers: dict[str, str], request: object) -> None:
        headers["X-Evil"] = "a\r\nSet-Cookie: stolen=1"
        headers["X-Snowman"] = "\u2603"
        headers["X-Good"] = "fine"

    conn = await connect(url)
    response = await conn.call("GET", POLL)
    assert response.status == 200
    assert response.headers["x-good"] == "fine"
    assert "x-evil" not in response.headers
    assert "set-cookie" not in response.headers
    assert "x-snowman" not in response.headers
    await conn.close()
    assert len(serve_native.errors.records) == 2
    serve_native.errors.records.clear()  # expected


def test_serialize_response() -> None:
    response = HTTPResponse(299, [("X-A", "b")], b"body")
    data = serialize_response(response, keep_alive=False)
    assert data.startswith(b"HTTP/1.1 299 Unknown\r\nX-A: b\r\ncontent-length: 4\r\ndate: ")
    assert data.endswith(b"\r\nconnection: close\r\n\r\nbody")


async def test_max_connections(start: Start, connect: Connect) -> None:
    _, url = await start(max_connections=1)
    first = await connect(url)
    assert (await first.call("GET", "/x")).status == 404
    second = await connect(url)
    assert await second.eof() == b""
    assert (await first.call("GET", "/x")).status == 404
    await first.close()


# ---- the WebSocket handshake ------------------------------------------------------------------


async def test_websocket_handshake_and_frames_sent_with_it(start: Start, connect: Connect) -> None:
    echo, url = await start()
    conn = await connect(url)
    key = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 section 1.3
    # frames pipelined right behind the request wait for the engine's accept
    conn.send(conn.ws_request(WS, key) + ws_text("4early") + client_frame(0x9, b"ping"))
    response = await conn.response()
    assert response.status == 101
    assert response.headers["sec-websocket-accept"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert accept_key(key) == response.headers["sec-websocket-accept"]
    assert response.headers["upgrade"] == "websocket"
    assert "sec-websocket-extensions" not in response.headers  # no permessage-deflate
    opening = await conn.message()
    assert isinstance(opening, str)
    assert opening.startswith("0{")
    assert await conn.frame() == (0xA, True, b"ping")
    assert await conn.message() == "4early"
    conn.send(ws_close(1000))
    assert await conn.close_frame() == 1000
    assert await conn.eof() == b""
    sid = json.loads(opening[1:])["sid"]
    assert await echo.closed(sid) == ("transport close", "websocket closed")


@pytest.mark.parametrize(
    ("target", "headers", "status"),
    [
        ("/elsewhere", {}, 404),
        (WS, {"Sec-WebSocket-Version": "8"}, 426),
        (WS, {"Sec-WebSocket-Key": "short"}, 400),
        (WS, {"Sec-WebSocket-Key": "!!!!!!!!!!!!!!!!!!!!!!=="}, 400),
        (WS, {"Connection": "keep-alive, Upgrade", "Upgrade": "WebSocket"}, 101),
        ("/engine.io/?EIO=4&transport=nope", {}, 400),  # refused by the engine
    ],
)
async def test_websocket_handshake_checks(
    start: Start, target: str, headers: dict[str, str], status: int, connect: Connect
) -> None:
    _, url = await start()
    conn = await connect(url)
    conn.send(conn.ws_request(target, **headers))
    response = await conn.response()
    assert response.status == status, response
    if status == 426:
        assert response.headers["sec-websocket-version"] == "13"
    if status == 101:
        assert str(await conn.message()).startswith("0{")
        await conn.close()
        return
    assert response.headers["connection"] == "close"
    if target.endswith("nope"):
        assert json.loads(response.body) == {"code": 0, "message": "Transport unknown"}
    assert await conn.eof() == b""


async def test_websocket_upgrade_with_post_is_refused(start: Start, connect: Connect) -> None:
    _, url = await start()
    conn = await connect(url)
    request = conn.ws_request(WS).replace(b"GET ", b"POST ", 1)
    conn.send(request)
    assert (await conn.response()).status == 400
    assert await conn.eof() == b""


# ---- WebSocket frames -------------------------------------------------------------------------


async def open_ws(connect: Connect, url: str) -> tuple[Conn, str]:
    conn = await connect(url)
    conn.send(conn.ws_request(WS))
    assert (await conn.response()).status == 101
    opening = await conn.message()
    assert isinstance(opening, str)
    sid: str = json.loads(opening[1:])["sid"]
    return conn, sid


async def test_fragments_pings_and_binary(start: Start, connect: Connect) -> None:
    _, url = await start()
    conn, _ = await open_ws(connect, url)
    conn.send(
        client_frame(0x1, b"4fr", fin=False)
        + client_frame(0x9, b"between")
        + client_frame(0x0, "\u00e9".encode()[:1], fin=False)
        + client_frame(0x0, "\u00e9".encode()[1:])
        + client_frame(0x2, b"\x00\x01")
    )
    assert await conn.frame() == (0xA, True, b"between")
    assert await conn.message() == "4fr\u00e9"
    assert await conn.message() == b"\x00\x01"
    await conn.close()


async def test_output_of_one_iteration_is_one_write(start: Start, connect: Connect) -> None:
    """Three sends in one loop iteration arrive in one TCP segment (one transport.write)."""
    echo, url = await start()
    conn, _ = await open_ws(connect, url)
    socket = await echo.socket()
    socket.send("a")
    socket.send("b")
    socket.send_many(["c", b"\x01"])
    async with asyncio.timeout(5):
        data = await conn.reader.read(65536)
    assert data == b"\x81\x024a\x81\x024b\x81\x024c\x82\x01\x01"
    await conn.close()


REASONS = {1002: b"invalid opcode 3", 1007: b"invalid UTF-8", 1009: b"message too big"}


@pytest.mark.parametrize(
    ("frames", "code", "reason"),
    [
        (client_frame(0x3), 1002, ("transport close", "websocket closed")),
        (client_frame(0x1, b"4\xff"), 1007, ("transport close", "websocket closed")),
        (client_frame(0x1, b"4" + b"x" * 1000), 1009, ("transport error", "message too large")),
    ],
)
async def test_websocket_protocol_errors(
    start: Start, frames: bytes, code: int, reason: tuple[str, str], connect: Connect
) -> None:
    echo, url = await start(engine_options={"max_http_buffer_size": 1000})
    conn, sid = await open_ws(connect, url)
    conn.send(ws_text("4before") + frames)
    assert await conn.message() == "4before"  # the reply to what came before goes out first
    assert await conn.frame() == (0x8, True, code.to_bytes(2, "big") + REASONS[code])
    assert await conn.eof() == b""  # the server half-closes after the failure
    assert await echo.closed(sid) == reason


async def test_server_close_and_the_close_timeout(start: Start, connect: Connect) -> None:
    echo, url = await start(close_timeout=0.1)
    conn, sid = await open_ws(connect, url)
    (await echo.socket()).close()
    assert await conn.close_frame() == 1000  # no close packet on WebSocket (as in JS)
    assert await conn.eof() == b""  # no answer from the client: dropped after the timeout
    assert (await echo.closed(sid))[0] == "forced close"


async def test_client_answers_the_server_close(start: Start, connect: Connect) -> None:
    echo, url = await start()
    conn, _sid = await open_ws(connect, url)
    (await echo.socket()).close()
    assert await conn.close_frame() == 1000
    conn.send(ws_close(1000))
    assert await conn.eof() == b""


async def test_client_that_does_not_read_is_aborted(start: Start, connect: Connect) -> None:
    echo, url = await start(write_buffer_limit=256 * 1024)
    conn, sid = await open_ws(connect, url)
    socket = await echo.socket()
    chunk = "4" + "z" * 1_000_000
    closed = echo.closes[sid]
    for _ in range(200):  # the kernel buffers fill first; then the cap is crossed
        if closed.done():
            break
        socket.send(chunk)
        await asyncio.sleep(0)  # let the flush run
    assert (await echo.closed(sid))[0] == "transport close"
    conn.writer.transport.abort()


# ---- Socket.IO, shutdown ----------------------------------------------------------------------


async def test_serves_a_socketio_server_on_its_path(
    serve_native: NativeServers, connect: Connect
) -> None:
    io = socketeer.Server()
    url = await serve_native(io)
    conn = await connect(url)
    response = await conn.call("GET", "/socket.io/?EIO=4&transport=polling")
    assert response.text.startswith("0{")
    assert (await conn.call("GET", POLL)).status == 404
    await conn.close()


async def test_graceful_shutdown(connect: Connect) -> None:
    echo = Echo(socketeer.EngineServer())
    server = await serve(echo.server, "127.0.0.1", 0)
    assert server.url.startswith("http://127.0.0.1:")
    assert server.port == server.sockets[0].getsockname()[1]
    idle = await connect(server.url)
    assert (await idle.call("GET", "/x")).status == 404
    held = await connect(server.url)
    sid = open_sid(await held.call("GET", POLL))
    held.send(held.request("GET", f"{POLL}&sid={sid}"))
    ws, ws_sid = await open_ws(connect, server.url)
    assert server.connections == 3
    await asyncio.sleep(0.05)  # the poll reaches the server
    server.close()
    # the held poll is answered, the idle connection closed, the WebSocket closed
    response = await held.response()
    assert (response.text, response.headers["connection"]) == ("1", "close")
    assert await held.eof() == b""
    await held.close()
    assert await idle.eof() == b""
    assert await ws.close_frame() == 1000
    ws.send(ws_close(1000))
    assert await ws.eof() == b""
    for s in (sid, ws_sid):
        assert (await echo.closed(s))[0] == "server shutting down"
    async with asyncio.timeout(1):  # nothing waits for a timeout
        await server.wait_closed()
    assert server.connections == 0
    refused = await asyncio.gather(
        asyncio.open_connection("127.0.0.1", server.port), return_exceptions=True
    )
    assert isinstance(refused[0], OSError)


async def test_shutdown_drops_what_does_not_finish(connect: Connect) -> None:
    echo = Echo(socketeer.EngineServer())
    server = await serve(echo.server, "127.0.0.1", 0, shutdown_timeout=0.1)
    conn = await connect(server.url)
    conn.send(b"GET /never-finished HTTP/1.1\r\n")
    _ws, _ = await open_ws(connect, server.url)  # never answers the close frame
    await asyncio.sleep(0.05)
    server.close()
    server.close()  # idempotent
    await server.wait_closed()
    assert await conn.eof() == b""
    assert server.connections == 0


async def test_options_or_limits_not_both() -> None:
    from socketeer.native import NativeOptions

    with pytest.raises(TypeError):
        await serve(socketeer.EngineServer(), port=0, options=NativeOptions(), max_headers=3)


async def test_serve_on_a_given_socket(connect: Connect) -> None:
    import socket as socket_module

    sock = socket_module.socket()
    sock.bind(("127.0.0.1", 0))
    async with await serve(socketeer.EngineServer(), sock=sock, path="/custom") as server:
        conn = await connect(server.url)
        response = await conn.call("GET", "/custom/?EIO=4&transport=polling")
        assert response.text.startswith("0{")
        await conn.close()
    assert server.connections == 0


async def test_client_closes_and_half_closes_at_once(start: Start, connect: Connect) -> None:
    echo, url = await start()
    conn, sid = await open_ws(connect, url)
    conn.send(ws_close(1001))
    conn.writer.write_eof()
    assert await conn.close_frame() == 1001
    assert await conn.eof() == b""
    assert await echo.closed(sid) == ("transport close", "websocket closed")


async def test_client_vanishes_without_a_close_frame(start: Start, connect: Connect) -> None:
    echo, url = await start()
    conn, sid = await open_ws(connect, url)
    conn.send(ws_text("4partial")[:4])
    conn.writer.write_eof()
    assert await conn.eof() == b""
    assert await echo.closed(sid) == ("transport close", "websocket closed")


async def test_failure_alone_closes_at_once(start: Start, connect: Connect) -> None:
    echo, url = await start()
    conn, sid = await open_ws(connect, url)
    conn.send(client_frame(0x3))
    assert await conn.close_frame() == 1002
    assert await conn.eof() == b""
    assert await echo.closed(sid) == ("transport close", "websocket closed")


async def test_held_close_is_released_by_the_timer(start: Start, connect: Connect) -> None:
    """The engine is still in a slow connection handler: the close goes out anyway."""
    release = asyncio.Event()
    echo, url = await start(close_timeout=0.1)

    @echo.server.on("connection")
    async def slow(socket: socketeer.EngineSocket) -> None:
        await release.wait()

    conn = await connect(url)
    conn.send(conn.ws_request(WS) + ws_text("4a") + client_frame(0x3))
    assert (await conn.response()).status == 101
    assert str(await conn.message()).startswith("0{")
    assert await conn.close_frame() == 1002
    assert await conn.eof() == b""
    release.set()


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A self-signed certificate for 127.0.0.1 (made with the openssl command), as (server,
    client) contexts."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(cert))
    return server, client


async def test_https_and_wss(tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    server_ctx, client_ctx = tls
    echo = Echo(socketeer.EngineServer())
    async with await serve(echo.server, "127.0.0.1", 0, ssl=server_ctx) as server:
        assert server.url.startswith("https://127.0.0.1:")
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port, ssl=client_ctx)
        conn = Conn(reader, writer, f"127.0.0.1:{server.port}")
        sid = open_sid(await conn.call("GET", POLL))
        assert (await echo.socket()).request.secure
        conn.send(conn.request("GET", f"{POLL}&sid={sid}", headers={"Connection": "close"}))
        conn.send(conn.request("POST", f"{POLL}&sid=nope", b"x"))
        socket = echo.server.sockets[SessionId(sid)]
        await asyncio.sleep(0.05)
        socket.send("over tls")
        response = await conn.response()
        assert (response.text, response.headers["connection"]) == ("4over tls", "close")
        assert await conn.eof() == b""  # TLS cannot half-close: the server just closes
        await conn.close()
