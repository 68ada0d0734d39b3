"""A raw WebSocket echo on the native front-end, for the Autobahn|Testsuite (RFC 6455).

Not a pytest module: it serves the native connection protocol (HTTP/1.1 parsing, the
opening handshake, ``socketeer.native.websocket`` framing, write coalescing) with an
engine stand-in that echoes every message, on any path::

    python tests/native/autobahn/echo_server.py 9001 &
    wstest -m fuzzingclient -s tests/native/autobahn/fuzzingclient.json

(``wstest`` comes from ``pip install autobahntestsuite`` under Python 2.7.) Cases 12 and 13
(permessage-deflate) are excluded: the extension is refused.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from socketeer.native.http import HTTPConnection, Shared
from socketeer.native.options import NativeOptions
from socketeer.server.http import HTTPRequest, WebSocketChannel


class EchoEngine:
    """Just what ``HTTPConnection`` uses of an ``EngineServer``."""

    class config:  # mimics EngineServer.config
        max_http_buffer_size = 64 * 1024 * 1024

    async def handle_websocket(self, request: HTTPRequest, channel: WebSocketChannel) -> None:
        await channel.accept([])
        while (message := await channel.receive()) is not None:
            channel.write([message])

    async def handle_http(self, request: HTTPRequest, body: Any) -> Any:
        raise NotImplementedError


class EchoShared(Shared):
    __slots__ = ()

    def matches(self, path: str) -> bool:
        return True


async def main(port: int) -> None:
    shared = EchoShared(EchoEngine(), "/", NativeOptions(max_fragments=100_000))  # type: ignore[arg-type]
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: HTTPConnection(shared), "127.0.0.1", port)
    print(f"echo on ws://127.0.0.1:{port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    import uvloop

    uvloop.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 9001))
