"""Raw loopback clients for the native front-end tests: bytes on a socket, no HTTP library.

``Conn`` writes literal requests and frames and reads literal responses and frames, so the
tests see exactly what the server sends (keep-alive, pipelining, close, frame bytes).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import socketeer

TIMEOUT = 5.0
MASK = b"\x11\x22\x33\x44"


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()


def client_frame(opcode: int, payload: bytes = b"", *, fin: bool = True, rsv: int = 0) -> bytes:
    """A masked client frame."""
    first = (0x80 if fin else 0) | rsv << 4 | opcode
    n = len(payload)
    if n < 126:
        head = bytes((first, 0x80 | n))
    elif n < 65536:
        head = struct.pack("!BBH", first, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", first, 0x80 | 127, n)
    return head + MASK + bytes(b ^ MASK[i % 4] for i, b in enumerate(payload))


def ws_text(data: str) -> bytes:
    return client_frame(0x1, data.encode())


def ws_close(code: int = 1000) -> bytes:
    return client_frame(0x8, code.to_bytes(2, "big"))


def accept_key(key: str) -> str:
    digest = hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
    return base64.b64encode(digest).decode()


@dataclass
class Conn:
    """One raw TCP connection to the server."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    host: str = ""

    @classmethod
    async def open(cls, url: str) -> Conn:
        parts = urlsplit(url)
        assert parts.hostname is not None
        assert parts.port is not None
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        return cls(reader, writer, f"{parts.hostname}:{parts.port}")

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except OSError:
            pass

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    def request(
        self,
        method: str,
        target: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        version: str = "1.1",
    ) -> bytes:
        """The bytes of a request (Content-Length framing when there is a body)."""
        lines = [f"{method} {target} HTTP/{version}", f"Host: {self.host}"]
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}")
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")

    async def response(self, *, head: bool = False) -> Response:
        """Read one response (``Content-Length`` framed; no body for HEAD)."""
        async with asyncio.timeout(TIMEOUT):
            raw = await self.reader.readuntil(b"\r\n\r\n")
            lines = raw.decode("latin-1").split("\r\n")
            version, status, *_ = lines[0].split(" ", 2)
            assert version == "HTTP/1.1", lines[0]
            headers: dict[str, str] = {}
            for line in lines[1:]:
                if line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            body = b"" if head else await self.reader.readexactly(length)
        return Response(int(status), headers, body)

    async def call(
        self, method: str, target: str, body: bytes | None = None, **kw: str
    ) -> Response:
        self.send(self.request(method, target, body, kw or None))
        return await self.response(head=method == "HEAD")

    async def eof(self) -> bytes:
        """Read until the server closes the connection; what arrived meanwhile."""
        async with asyncio.timeout(TIMEOUT):
            return await self.reader.read()

    # -- WebSocket -------------------------------------------------------------------------

    def ws_request(self, target: str, key: str | None = None, **headers: str) -> bytes:
        fields = {
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": key or base64.b64encode(os.urandom(16)).decode(),
            "Sec-WebSocket-Version": "13",
            **headers,
        }
        return self.request("GET", target, headers=fields)

    async def frame(self) -> tuple[int, bool, bytes]:
        """Read one server frame: (opcode, fin, payload); server frames are unmasked."""
        async with asyncio.timeout(TIMEOUT):
            first, second = await self.reader.readexactly(2)
            assert not second & 0x80, "server frames must not be masked"
            n = second & 0x7F
            if n == 126:
                n = int.from_bytes(await self.reader.readexactly(2), "big")
            elif n == 127:
                n = int.from_bytes(await self.reader.readexactly(8), "big")
            payload = await self.reader.readexactly(n)
        assert not first & 0x70
        return first & 0x0F, bool(first & 0x80), payload

    async def message(self) -> str | bytes:
        opcode, fin, payload = await self.frame()
        assert fin
        assert opcode in (1, 2), (opcode, payload)
        return payload.decode() if opcode == 1 else payload

    async def close_frame(self) -> int:
        """Skip messages until the close frame; its code."""
        while True:
            opcode, _, payload = await self.frame()
            if opcode == 0x8:
                return int.from_bytes(payload[:2], "big") if payload else 1005


@dataclass
class Echo:
    """An ``EngineServer`` that echoes every message and reports sockets and closes."""

    server: socketeer.EngineServer
    sockets: asyncio.Queue[socketeer.EngineSocket] = field(default_factory=asyncio.Queue)
    closes: dict[str, asyncio.Future[tuple[str, str]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        @self.server.on("connection")
        def connection(socket: socketeer.EngineSocket) -> None:
            closed = self.closes.setdefault(socket.sid, asyncio.get_running_loop().create_future())
            socket.on("message", socket.send)
            socket.on("close", lambda reason, description: closed.set_result((reason, description)))
            self.sockets.put_nowait(socket)

    async def socket(self) -> socketeer.EngineSocket:
        return await asyncio.wait_for(self.sockets.get(), TIMEOUT)

    async def closed(self, sid: str) -> tuple[str, str]:
        future = self.closes.setdefault(sid, asyncio.get_running_loop().create_future())
        return await asyncio.wait_for(asyncio.shield(future), TIMEOUT)


def open_sid(response: Response) -> str:
    assert response.status == 200, response
    assert response.text.startswith("0")
    sid: str = json.loads(response.text[1:])["sid"]
    return sid


POLL = "/engine.io/?EIO=4&transport=polling"
WS = "/engine.io/?EIO=4&transport=websocket"
