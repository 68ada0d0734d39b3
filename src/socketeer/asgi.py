"""The ASGI front-end: serves an Engine.IO (or Socket.IO) server under any ASGI server.

``ASGIApp(server)`` answers the Engine.IO endpoint (``/engine.io/`` for an engine server,
``/socket.io/`` for a Socket.IO server) over HTTP long-polling and WebSocket, handles the
lifespan protocol (closing the server at shutdown), and hands every other path to an
optional inner ASGI app, so it mounts beside FastAPI or Starlette routes. With
``serve_client``, it also serves the official ``socket.io-client`` browser bundle at
``<path>socket.io.js`` (and the other files the JS server's ``serveClient`` serves).

Size limits: polling bodies are counted while they are read. WebSocket messages arrive
whole from the ASGI server, so set the server's own limit too (uvicorn ``ws_max_size``);
this app closes any larger message with code 1009.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any, Protocol
from urllib.parse import parse_qsl

from .server.client_bundle import ClientBundle
from .server.engine import EngineServer
from .server.http import (
    BodyTooLarge,
    ConnectionLost,
    HTTPRequest,
    HTTPResponse,
    MessageTooLarge,
)

logger = logging.getLogger("socketeer.asgi")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApplication = Callable[[Scope, Receive, Send], Awaitable[None]]


class HasEngine(Protocol):
    """A server that runs on an Engine.IO server (the Socket.IO ``Server``)."""

    @property
    def engine(self) -> EngineServer: ...  # pragma: no cover - protocol

    default_path: str


class ASGIApp:
    """Serve ``server`` as an ASGI application.

    Args:
        server: an ``EngineServer``, or a Socket.IO ``Server``.
        other_app: an ASGI app that receives every other request (and the lifespan events).
        path: the endpoint path (default ``/engine.io/`` or ``/socket.io/``).
        serve_client: serve the ``socket.io-client`` browser bundle at
            ``<path>socket.io.js`` (``.min.js``, ``.map``...) from its npm package: a
            ``node_modules`` directory (or the package directory), or True to find
            ``node_modules`` in the current directory or a parent. Raises
            ``FileNotFoundError`` when the package is not installed there.
    """

    def __init__(
        self,
        server: EngineServer | HasEngine,
        other_app: ASGIApplication | None = None,
        *,
        path: str | None = None,
        serve_client: bool | str | os.PathLike[str] = False,
    ) -> None:
        if isinstance(server, EngineServer):
            self.engine = server
            default_path = "/engine.io/"
        else:
            self.engine = server.engine
            default_path = server.default_path
        self.server = server
        self.other_app = other_app
        self.path = "/" + (path or default_path).strip("/") + "/"
        self.client_bundle = ClientBundle.locate(serve_client) if serve_client else None

    @staticmethod
    def _local_path(scope: Scope) -> str:
        path: str = scope.get("path", "")
        root: str = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        return path

    def _matches(self, scope: Scope) -> bool:
        path = self._local_path(scope)
        return path == self.path or path == self.path[:-1]

    def _client_file(self, scope: Scope) -> HTTPResponse | None:
        path = self._local_path(scope)
        if self.client_bundle is None or not path.startswith(self.path):
            return None
        return self.client_bundle.response(_request(scope), path[len(self.path) :])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(scope, receive, send)
        elif kind == "http" and (bundle_file := self._client_file(scope)) is not None:
            await _send_response(send, bundle_file)
        elif kind in ("http", "websocket") and self._matches(scope):
            request = _request(scope)
            if kind == "http":
                response = await self.engine.handle_http(request, _Body(receive))
                await _send_response(send, response)
            else:
                channel = _Channel(scope, receive, send, self.engine.config.max_http_buffer_size)
                try:
                    await self.engine.handle_websocket(request, channel)
                finally:
                    await channel.finish()
        elif self.other_app is not None:
            await self.other_app(scope, receive, send)
        elif kind == "http":
            await _send_response(
                send, HTTPResponse(404, [("Content-Type", "text/plain")], b"Not Found")
            )
        elif kind == "websocket":
            await receive()
            await send({"type": "websocket.close", "code": 1000})

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.other_app is not None:

            async def receive_and_close() -> Message:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await self._startup()
                elif message["type"] == "lifespan.shutdown":
                    await self._shutdown()
                return message

            await self.other_app(scope, receive_and_close, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self._startup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self._shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _startup(self) -> None:
        start = getattr(self.server, "start", None)  # Server.start(): the adapters subscribe
        if start is not None:
            await start()

    async def _shutdown(self) -> None:
        close = getattr(self.server, "close", None)
        if close is not None:
            await close()
        else:  # pragma: no cover - every server has close()
            await self.engine.close()


def _request(scope: Scope) -> HTTPRequest:
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", ()):
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    query_string = scope.get("query_string", b"").decode("latin-1")
    query: dict[str, str] = {}
    for key, value in parse_qsl(query_string, keep_blank_values=True):
        query.setdefault(key, value)
    client = scope.get("client")
    return HTTPRequest(
        method=scope.get("method", "GET").upper(),
        path=scope.get("path", "/"),
        query_string=query_string,
        query=query,
        headers=headers,
        client=(client[0], client[1]) if client else None,
        secure=scope.get("scheme") in ("https", "wss"),
    )


async def _send_response(send: Send, response: HTTPResponse) -> None:
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
    headers.append((b"content-length", str(len(response.body)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


class _Body:
    """``HTTPBody`` over ASGI ``receive``."""

    __slots__ = ("_done", "_receive")

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._done = False

    async def read(self, limit: int) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while not self._done:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                raise ConnectionLost()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge()
            chunks.append(chunk)
            self._done = not message.get("more_body", False)
        return b"".join(chunks)

    async def wait_disconnect(self) -> None:
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                return


_CLOSE = object()


class _Channel:
    """``WebSocketChannel`` over ASGI, with one writer task that keeps writes in order."""

    __slots__ = (
        "_closed",
        "_limit",
        "_peer_gone",
        "_queue",
        "_receive",
        "_scope",
        "_send",
        "_wakeup",
        "_writer",
    )

    def __init__(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        self._scope = scope
        self._receive = receive
        self._send = send
        self._limit = limit
        self._queue: deque[Any] = deque()
        self._wakeup = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._closed = False  # no more writes are accepted
        self._peer_gone = False

    async def _connect(self) -> None:
        message = await self._receive()
        if message["type"] != "websocket.connect":  # pragma: no cover - ASGI guarantees it
            raise ConnectionLost()

    async def accept(self, headers: Sequence[tuple[str, str]]) -> None:
        await self._connect()
        await self._send(
            {
                "type": "websocket.accept",
                "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers],
            }
        )
        self._writer = asyncio.get_running_loop().create_task(self._write_loop())

    async def reject(self, response: HTTPResponse) -> None:
        await self._connect()
        self._closed = True
        if "websocket.http.response" in self._scope.get("extensions", {}):
            headers = [
                (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers
            ]
            await self._send(
                {
                    "type": "websocket.http.response.start",
                    "status": response.status,
                    "headers": headers,
                }
            )
            await self._send({"type": "websocket.http.response.body", "body": response.body})
        else:
            await self._send({"type": "websocket.close", "code": 1008})

    async def receive(self) -> str | bytes | None:
        while True:
            message = await self._receive()
            kind = message["type"]
            if kind == "websocket.disconnect":
                self._closed = self._peer_gone = True
                return None
            if kind != "websocket.receive":  # pragma: no cover - nothing else is defined
                continue
            text: str | None = message.get("text")
            data: str | bytes
            if text is None:
                data = message.get("bytes") or b""
                size = len(data)
            else:
                data = text
                size = len(text) if len(text) * 4 <= self._limit else len(text.encode())
            if size > self._limit:
                self.close(1009)
                raise MessageTooLarge()
            return data

    def write(self, messages: Sequence[str | bytes]) -> None:
        if self._closed:
            return
        self._queue.extend(messages)
        self._wakeup.set()

    def close(self, code: int = 1000) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.append((_CLOSE, code))
        self._wakeup.set()

    async def _write_loop(self) -> None:
        queue = self._queue
        send = self._send
        try:
            while True:
                await self._wakeup.wait()
                self._wakeup.clear()
                while queue:
                    item = queue.popleft()
                    if isinstance(item, str):
                        await send({"type": "websocket.send", "text": item})
                    elif isinstance(item, bytes):
                        await send({"type": "websocket.send", "bytes": item})
                    else:
                        await send({"type": "websocket.close", "code": item[1]})
                        return
        except (OSError, RuntimeError) as exc:
            # The peer is gone (the ASGI server raises once the socket is closed).
            logger.debug("websocket write failed: %r", exc)
            self._closed = True

    async def finish(self) -> None:
        """Wait for queued writes (and the close) to go out; called when serving ends."""
        writer = self._writer
        if writer is None or writer.done():
            return
        if self._peer_gone:
            writer.cancel()  # nobody is left to write to
        else:
            self.close()
        with contextlib.suppress(asyncio.CancelledError):
            try:
                await asyncio.wait_for(asyncio.shield(writer), timeout=5.0)
            except TimeoutError:
                writer.cancel()


__all__ = ["ASGIApp"]
