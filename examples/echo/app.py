"""The demo app: an Engine.IO echo server plus a tiny page that connects to it.

The page loads the official browser bundle of ``engine.io-client`` from
``tests/interop/node_modules`` (installed by ``npm ci`` there; it is served, not copied).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import socketeer

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

ROOT = Path(__file__).resolve().parents[2]
CLIENT_BUNDLE = ROOT / "tests/interop/node_modules/engine.io-client/dist/engine.io.min.js"
PAGE = (Path(__file__).resolve().parent / "index.html").read_bytes()

logger = logging.getLogger("examples.echo")


async def _respond(send: Send, status: int, content_type: str, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def pages(scope: Scope, receive: Receive, send: Send) -> None:
    """The inner ASGI app: ``/`` (the page) and ``/engine.io.js`` (the client bundle)."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.close", "code": 1000})
        return
    path = scope["path"]
    if path == "/":
        await _respond(send, 200, "text/html; charset=utf-8", PAGE)
    elif path == "/engine.io.js":
        try:
            bundle = CLIENT_BUNDLE.read_bytes()
        except OSError:
            hint = f"{CLIENT_BUNDLE} is missing: run `npm ci` in tests/interop (scripts/demo does)"
            await _respond(send, 500, "text/plain; charset=utf-8", hint.encode())
            return
        await _respond(send, 200, "text/javascript; charset=utf-8", bundle)
    else:
        await _respond(send, 404, "text/plain; charset=utf-8", b"Not Found")


def create_app() -> socketeer.ASGIApp:
    """The demo's ASGI app: Engine.IO at ``/engine.io/``, the page everywhere else."""
    eio = socketeer.EngineServer()

    @eio.on("connection")
    def connection(socket: socketeer.EngineSocket) -> None:
        logger.info("%s connected over %s", socket.sid, socket.transport)
        socket.send(f"welcome, {socket.sid}")

        @socket.on("message")
        def message(data: str | bytes) -> None:
            socket.send(data)

        @socket.on("upgrade")
        def upgrade(transport: str) -> None:
            logger.info("%s upgraded to %s", socket.sid, transport)

        @socket.on("close")
        def close(reason: str, description: object) -> None:
            logger.info("%s closed: %s", socket.sid, reason)

    return socketeer.ASGIApp(eio, pages)
