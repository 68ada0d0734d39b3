"""Packets a client sends for a namespace before its CONNECT is answered."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

import socketeer
from socketeer.server.connection import MAX_EARLY_PACKETS

TIMEOUT = 5.0


async def engine(base: str) -> ClientConnection:
    ws = await connect(base.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket")
    assert str(await asyncio.wait_for(ws.recv(), TIMEOUT)).startswith("0{")
    return ws


def slow_server(release: asyncio.Event, *, refuse: bool = False) -> tuple[Any, Any]:
    io = socketeer.Server()
    received: asyncio.Queue[tuple[str, list[Any]]] = asyncio.Queue()

    @io.use
    async def wait_for_the_test(socket: socketeer.Socket) -> None:
        await release.wait()
        if refuse:
            raise socketeer.ConnectionRefusedByServer("no")

    @io.on("connection")
    def connection(socket: socketeer.Socket) -> None:
        socket.on_any(lambda name, *args: received.put_nowait((name, list(args))))
        socket.on("echo", lambda *args: args)

    return io, received


async def test_events_sent_before_the_connect_reply_are_delivered_in_order(
    serve_asgi: Any,
) -> None:
    release = asyncio.Event()
    io, received = slow_server(release)
    ws = await engine(await serve_asgi(socketeer.ASGIApp(io)))
    await ws.send("40")
    for i in range(5):
        await ws.send(f'42["early",{i}]')
    await ws.send('421["echo","x"]')
    release.set()
    assert str(await asyncio.wait_for(ws.recv(), TIMEOUT)).startswith('40{"sid":')
    assert await asyncio.wait_for(ws.recv(), TIMEOUT) == '431["x"]'
    got = [await asyncio.wait_for(received.get(), TIMEOUT) for _ in range(6)]
    assert got == [*(("early", [i]) for i in range(5)), ("echo", ["x"])]
    await ws.close()


async def test_early_packets_are_dropped_when_the_connect_is_refused(serve_asgi: Any) -> None:
    release = asyncio.Event()
    io, received = slow_server(release, refuse=True)
    ws = await engine(await serve_asgi(socketeer.ASGIApp(io)))
    await ws.send("40")
    await ws.send('42["early"]')
    release.set()
    assert await asyncio.wait_for(ws.recv(), TIMEOUT) == '44{"message":"no"}'
    await ws.send("40")  # may try again; nothing of the first attempt comes back
    assert await asyncio.wait_for(ws.recv(), TIMEOUT) == '44{"message":"no"}'
    assert received.empty()
    await ws.close()


async def test_too_many_early_packets_close_the_connection(serve_asgi: Any) -> None:
    release = asyncio.Event()
    io, _ = slow_server(release)
    ws = await engine(await serve_asgi(socketeer.ASGIApp(io)))
    await ws.send("40")
    for _ in range(MAX_EARLY_PACKETS + 1):
        await ws.send('42["flood"]')

    async def drain() -> None:
        while True:
            await ws.recv()

    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(drain(), TIMEOUT)
    release.set()
