"""Dynamic namespaces: a callable parent, ``new_namespace``, and cleanup of empty children."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

import socketeer

TIMEOUT = 5.0


async def engine(base: str) -> ClientConnection:
    ws = await connect(base.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket")
    assert str(await asyncio.wait_for(ws.recv(), TIMEOUT)).startswith("0{")
    return ws


async def test_callable_parent_creates_children_and_cleans_them_up(serve_asgi: Any) -> None:
    io = socketeer.Server(cleanup_empty_child_namespaces=True)
    created: asyncio.Queue[str] = asyncio.Queue()
    connected: asyncio.Queue[tuple[str, socketeer.Socket]] = asyncio.Queue()
    asked: list[tuple[str, dict[str, Any]]] = []

    async def allow(name: str, auth: dict[str, Any]) -> bool:
        asked.append((name, auth))
        return name.startswith("/room-") and auth.get("ok") is True

    parent = io.of(allow)
    io.on("new_namespace", lambda nsp: created.put_nowait(nsp.name))

    @parent.use
    def tag(socket: socketeer.Socket) -> None:
        socket.data = {"via": "parent middleware"}

    left: asyncio.Queue[str] = asyncio.Queue()

    @parent.on("connection")
    def on_connection(socket: socketeer.Socket) -> None:
        socket.on("disconnect", left.put_nowait)
        connected.put_nowait((socket.nsp.name, socket))

    base = await serve_asgi(socketeer.ASGIApp(io))
    ws = await engine(base)

    await ws.send('40/room-1,{"ok":true}')
    reply = str(await asyncio.wait_for(ws.recv(), TIMEOUT))
    assert reply.startswith('40/room-1,{"sid":')
    assert await asyncio.wait_for(created.get(), TIMEOUT) == "/room-1"
    name, socket = await asyncio.wait_for(connected.get(), TIMEOUT)
    assert name == "/room-1"
    assert socket.data == {"via": "parent middleware"}
    assert "/room-1" in parent.children

    await ws.send('40/room-2,{"ok":false}')  # the callable refuses
    assert await asyncio.wait_for(ws.recv(), TIMEOUT) == (
        '44/room-2,{"message":"Invalid namespace"}'
    )
    assert asked == [("/room-1", {"ok": True}), ("/room-2", {"ok": False})]

    # The last socket leaves: the empty child is dropped, and made anew on the next connect.
    await ws.send("41/room-1,")
    assert await asyncio.wait_for(left.get(), TIMEOUT) == "client namespace disconnect"
    assert "/room-1" not in parent.children
    await ws.send('40/room-1,{"ok":true}')
    assert str(await asyncio.wait_for(ws.recv(), TIMEOUT)).startswith('40/room-1,{"sid":')
    assert await asyncio.wait_for(created.get(), TIMEOUT) == "/room-1"
    await ws.close()


async def test_children_are_kept_without_cleanup(serve_asgi: Any) -> None:
    io = socketeer.Server()
    parent = io.of(re.compile(r"/team-\d+"))
    gone: asyncio.Queue[str] = asyncio.Queue()

    @parent.on("connection")
    def on_connection(socket: socketeer.Socket) -> None:
        socket.on("disconnect", gone.put_nowait)

    ws = await engine(await serve_asgi(socketeer.ASGIApp(io)))
    await ws.send("40/team-7,")
    assert str(await asyncio.wait_for(ws.recv(), TIMEOUT)).startswith('40/team-7,{"sid":')
    await ws.send("41/team-7,")
    assert await asyncio.wait_for(gone.get(), TIMEOUT) == "client namespace disconnect"
    assert "/team-7" in parent.children
    await ws.send("40/team-x,")  # the regex must match the whole name
    assert await asyncio.wait_for(ws.recv(), TIMEOUT) == '44/team-x,{"message":"Invalid namespace"}'
    await ws.close()
