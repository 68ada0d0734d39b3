"""python-socketio (``AsyncServer``, ``async_mode="asgi"``) on uvicorn."""

from __future__ import annotations

from typing import Any

from _common import MAX_BUFFER, PING_INTERVAL, PING_TIMEOUT, ROOM, parse_args, run_uvicorn

import socketio


def build(async_mode: str) -> socketio.AsyncServer:
    sio = socketio.AsyncServer(
        async_mode=async_mode,
        ping_interval=PING_INTERVAL,
        ping_timeout=PING_TIMEOUT,
        max_http_buffer_size=MAX_BUFFER,
        http_compression=False,
        logger=False,
        engineio_logger=False,
    )

    @sio.on("echo")
    async def echo(sid: str, *args: Any) -> tuple[Any, ...]:
        return args

    @sio.on("join")
    async def join(sid: str) -> None:
        await sio.enter_room(sid, ROOM)

    @sio.on("broadcast")
    async def broadcast(sid: str, data: Any) -> None:
        await sio.emit("news", data, room=ROOM)

    return sio


if __name__ == "__main__":
    args = parse_args(__doc__ or "")
    run_uvicorn(socketio.ASGIApp(build("asgi")), args)
