"""``socketeer.ASGIApp`` under uvicorn: routing, paths, lifespan, and a Starlette mount."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

import socketeer

from .conftest import ServeASGI
from .helpers import Harness, Start, record, recv

Scope = dict[str, Any]


class Inner:
    """A plain ASGI app that answers with its own name and records its lifespan."""

    def __init__(self) -> None:
        self.lifespan: list[str] = []

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    self.lifespan.append("startup")
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    self.lifespan.append("shutdown")
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        elif scope["type"] == "http":
            body = f"inner {scope['path']}".encode()
            headers = [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        elif scope["type"] == "websocket":
            assert (await receive())["type"] == "websocket.connect"
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.send", "text": f"inner {scope['path']}"})
            await send({"type": "websocket.close", "code": 1000})


# ---- routing -------------------------------------------------------------------------------


async def test_other_paths_go_to_the_other_app(start: Start) -> None:
    inner = Inner()
    harness = await start(app_options={"other_app": inner})
    for path in ("/", "/other", "/engine.io/extra", "/engine.iox", "/socket.io/"):
        response = await harness.http.get(harness.base_url + path)
        assert (response.status_code, response.text) == (200, f"inner {path}")
    async with harness.websocket(path="/chat") as ws:
        assert await recv(ws) == "inner /chat"
    sid, _ = await harness.open_polling()
    await harness.assert_echoes(sid)
    assert inner.lifespan == ["startup"]


async def test_not_found_without_another_app(start: Start) -> None:
    harness = await start()
    for path in ("/", "/other", "/engine.io/extra", "/socket.io/"):
        response = await harness.http.get(harness.base_url + path)
        assert (response.status_code, response.text) == (404, "Not Found")
    response = await harness.ws_refused(harness.ws_url(path="/other"))
    assert response.status_code == 403  # uvicorn's answer to a close before the accept
    sid, _ = await harness.open_polling()
    await harness.assert_echoes(sid)


@pytest.mark.parametrize("path", ["/engine.io/", "/engine.io"])
async def test_path_with_and_without_trailing_slash(start: Start, path: str) -> None:
    harness = await start()
    harness.path = path
    sid, _ = await harness.open_polling()
    await harness.assert_echoes(sid)
    ws, _, _ = await harness.open_websocket()
    async with ws:
        await ws.send("4ws")
        assert await recv(ws) == "4ws"


@pytest.mark.parametrize("option", ["/custom/io", "custom/io/", "/custom/io/"])
async def test_custom_path(start: Start, option: str) -> None:
    harness = await start(app_options={"path": option})
    assert harness.path == "/custom/io/"
    for path in ("/custom/io/", "/custom/io"):
        harness.path = path
        sid, _ = await harness.open_polling()
        await harness.assert_echoes(sid)
    response = await harness.http.get(harness.url(path="/engine.io/"))
    assert response.status_code == 404


async def test_uvicorn_root_path(start: Start) -> None:
    """Behind a proxy that strips ``/prefix`` (uvicorn ``root_path``), the path still matches."""
    harness = await start(uvicorn_options={"root_path": "/prefix"})
    sid, socket = await harness.open_polling()
    assert socket.request.path in ("/engine.io/", "/prefix/engine.io/")
    await harness.assert_echoes(sid)


# ---- lifespan ------------------------------------------------------------------------------


async def test_lifespan_shutdown_closes_the_sessions(start: Start, serve_asgi: ServeASGI) -> None:
    harness = await start()
    sid, _ = await harness.open_polling()
    await serve_asgi.stop_all()  # uvicorn runs the lifespan shutdown
    closed = await harness.closed(sid)
    assert closed.reason == "server shutting down"
    assert harness.server.clients_count == 0


async def test_lifespan_with_an_inner_app(start: Start, serve_asgi: ServeASGI) -> None:
    inner = Inner()
    harness = await start(app_options={"other_app": inner})
    assert inner.lifespan == ["startup"]
    sid, _ = await harness.open_polling()
    await serve_asgi.stop_all()
    assert inner.lifespan == ["startup", "shutdown"]
    assert (await harness.closed(sid)).reason == "server shutting down"


# ---- Starlette -----------------------------------------------------------------------------


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello from starlette")


async def test_mounted_in_starlette(serve_asgi: ServeASGI) -> None:
    """``Mount("/sio", app=ASGIApp(server))``: clients use ``/sio/engine.io/``."""
    harness = Harness(server=socketeer.EngineServer(), path="/sio/engine.io/")
    record(harness, echo=True)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await harness.server.close()  # Starlette does not pass the lifespan to mounted apps

    app = Starlette(
        routes=[Route("/hello", hello), Mount("/sio", app=socketeer.ASGIApp(harness.server))],
        lifespan=lifespan,
    )
    try:
        harness.base_url = await serve_asgi(app)
        assert (await harness.http.get(harness.base_url + "/hello")).text == "hello from starlette"
        sid, socket = await harness.open_polling()
        assert socket.request.path == "/sio/engine.io/"
        await harness.assert_echoes(sid)
        async with await harness.upgrade(sid) as ws:
            await ws.send("4over ws")
            assert await recv(ws) == "4over ws"
        assert (await harness.closed(sid)).reason == "transport close"
        harness.path = "/sio/engine.io"
        ws, ws_sid, _ = await harness.open_websocket()
        async with ws:
            await ws.send("4no slash")
            assert await recv(ws) == "4no slash"
        assert (await harness.closed(ws_sid)).reason == "transport close"
        response = await harness.http.get(harness.url(path="/engine.io/"))
        assert response.status_code == 404  # not mounted there
        idle, _ = await harness.open_polling()
        await serve_asgi.stop_all()
        assert (await harness.closed(idle)).reason == "server shutting down"
    finally:
        await harness.http.aclose()
