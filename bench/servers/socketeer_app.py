"""The socketeer server under test, shared by the ASGI and the native front-ends."""

from __future__ import annotations

from typing import Any

from _common import MAX_BUFFER, PING_INTERVAL, PING_TIMEOUT, ROOM

import socketeer


def build() -> socketeer.Server:
    io = socketeer.Server(
        ping_interval=PING_INTERVAL,
        ping_timeout=PING_TIMEOUT,
        max_http_buffer_size=MAX_BUFFER,
    )

    async def echo(*args: Any) -> tuple[Any, ...]:
        return args  # a tuple acknowledges with several arguments

    async def broadcast(data: Any) -> None:
        await io.to(ROOM).emit("news", data)

    @io.on("connection")
    def connection(socket: socketeer.Socket) -> None:
        async def join() -> None:
            await socket.join(ROOM)

        socket.on("echo", echo)
        socket.on("join", join)
        socket.on("broadcast", broadcast)

    return io
