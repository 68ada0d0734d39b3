"""Client options against socketeer's server: extra headers and query, cookies kept across
requests (WebSocket handshakes included), TLS, upgrade, remember_upgrade, the msgpack
codec."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Any

import pytest

import socketeer
from socketeer.exceptions import ConnectionFailed
from socketeer.socketio import MsgpackCodec

from .conftest import MakeClient
from .helpers import MODES, bounded, echo_server, eventually, get, queue_of

Scope = dict[str, Any]


class RecordingApp:
    """Wraps an ASGI app and records (type, path, query, headers) of each request."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests: list[tuple[str, str, dict[str, str]]] = []

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            self.requests.append((scope["type"], scope["query_string"].decode(), headers))
        await self.app(scope, receive, send)


@pytest.mark.parametrize("transports", MODES.values(), ids=MODES.keys())
async def test_headers_query_and_cookies_on_every_request(
    serve_asgi: Any, make_client: MakeClient, transports: tuple[str, ...]
) -> None:
    io, seen = echo_server(cookie=True)
    app = RecordingApp(socketeer.ASGIApp(io))
    url = await serve_asgi(app)
    client = make_client(
        url, transports=transports, headers={"X-Token": "t0k"}, query={"tenant": "acme"}
    )
    await bounded(client.connect())
    server_socket = await get(seen.connections)
    assert server_socket.handshake["headers"]["x-token"] == "t0k"
    assert server_socket.handshake["query"]["tenant"] == "acme"
    assert await bounded(client.emit_with_ack("echo", 1)) == 1
    if transports == MODES["upgrade"]:
        await eventually(lambda: client.transport == "websocket")
    sid = server_socket.conn.sid
    assert app.requests
    for kind, query, headers in app.requests:
        assert headers["x-token"] == "t0k", kind
        assert "tenant=acme" in query
        if "sid=" in query:  # every request after the handshake carries the cookie
            assert headers.get("cookie") == f"io={sid}", (kind, query)
    kinds = {kind for kind, _, _ in app.requests}
    assert kinds == {"http" if t == "polling" else "websocket" for t in transports}


async def test_no_upgrade_and_remember_upgrade(serve_asgi: Any, make_client: MakeClient) -> None:
    io, seen = echo_server()
    url = await serve_asgi(socketeer.ASGIApp(io))
    client = make_client(url, upgrade=False)
    await bounded(client.connect())
    assert await bounded(client.emit_with_ack("echo", 1)) == 1
    assert client.transport == "polling"
    await get(seen.connections)

    client = make_client(url, remember_upgrade=True, reconnection_delay=0.05)
    connects = queue_of(client, "connect")
    await bounded(client.connect())
    await get(connects)
    first = await get(seen.connections)
    assert seen.transports[-1] == "polling"  # opened with polling...
    await eventually(lambda: client.transport == "websocket")  # ...then upgraded
    first.conn.close()
    await get(connects)
    await get(seen.connections)
    assert seen.transports[-1] == "websocket"  # opened with WebSocket directly
    assert client.transport == "websocket"


async def test_msgpack_codec(serve_asgi: Any, make_client: MakeClient) -> None:
    io, seen = echo_server(codec=MsgpackCodec())
    url = await serve_asgi(socketeer.ASGIApp(io))
    client = make_client(url, codec=MsgpackCodec(), transports=("polling",))
    news = queue_of(client, "news")
    await bounded(client.connect())
    server_socket = await get(seen.connections)
    assert await bounded(client.emit_with_ack("echo", {"b": b"\x01"}, [1.5])) == (
        {"b": b"\x01"},
        [1.5],
    )
    server_socket.emit("news", b"\xff\x00")
    assert await get(news) == b"\xff\x00"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (made with the openssl command)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    directory = tmp_path_factory.mktemp("tls")
    key, cert = directory / "key.pem", directory / "cert.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )  # fmt: skip
    return key, cert


@pytest.mark.parametrize("transports", MODES.values(), ids=MODES.keys())
async def test_tls(
    serve_asgi: Any,
    make_client: MakeClient,
    certificate: tuple[Path, Path],
    transports: tuple[str, ...],
) -> None:
    key, cert = certificate
    io, _ = echo_server()
    url = await serve_asgi(socketeer.ASGIApp(io), ssl_keyfile=str(key), ssl_certfile=str(cert))
    url = url.replace("http://", "https://")
    context = ssl.create_default_context(cafile=str(cert))
    client = make_client(url, transports=transports, ssl=context)
    await bounded(client.connect())
    assert await bounded(client.emit_with_ack("echo", "over tls")) == "over tls"
    if transports == MODES["upgrade"]:
        await eventually(lambda: client.transport == "websocket")
        assert await bounded(client.emit_with_ack("echo", "wss")) == "wss"

    unverified = make_client(url, transports=transports, ssl=False)
    await bounded(unverified.connect())
    assert unverified.connected

    untrusted = make_client(url, transports=transports, reconnection=False)
    with pytest.raises(ConnectionFailed):
        await bounded(untrusted.connect())


async def test_failed_probe_keeps_polling(serve_asgi: Any, make_client: MakeClient) -> None:
    io, _ = echo_server()
    url = await serve_asgi(socketeer.ASGIApp(io), ws="none")  # WebSockets refused by uvicorn
    client = make_client(url)
    upgrade_errors = queue_of(client.io, "upgrade_error")
    await bounded(client.connect())
    assert "probe error" in await get(upgrade_errors)
    assert client.transport == "polling"
    assert await bounded(client.emit_with_ack("echo", "still polling")) == "still polling"


async def test_auth_callables(serve_asgi: Any, make_client: MakeClient) -> None:
    io, seen = echo_server()
    url = await serve_asgi(socketeer.ASGIApp(io))
    client = make_client(url, transports=("websocket",), auth=lambda: {"sync": True})
    await bounded(client.connect())
    assert (await get(seen.connections)).handshake["auth"] == {"sync": True}

    def broken() -> dict[str, Any]:
        raise RuntimeError("no token")

    failing = make_client(url, transports=("websocket",), auth=broken)
    errors = queue_of(failing, "connect_error")
    with pytest.raises(RuntimeError, match="no token"):
        await bounded(failing.connect())
    assert isinstance(await get(errors), RuntimeError)

    wrong = make_client(url, transports=("websocket",), auth=lambda: "not a dict")
    with pytest.raises(TypeError, match="auth must give a dict"):
        await bounded(wrong.connect())
