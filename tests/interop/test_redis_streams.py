"""The Redis Streams adapter in a mixed cluster: a socketeer node and an official
``socket.io`` 4.8.4 node on ``@socket.io/redis-streams-adapter`` 0.3.1, both with
connection-state recovery, behind a TCP proxy that a test points at one node or the other.

An official ``socket.io-client`` (WebSocket) connects through the proxy to the Node node,
gets a broadcast of the Python node with its stream offset, drops; while it is away the
Python node broadcasts; the proxy now leads to the Python node, which takes the session the
Node node stored in Redis and replays what was missed: the client is ``recovered`` with its
socket id. Then the same the other way round (Python stores, Node restores).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from typing import Any

import pytest
import redis.asyncio as aioredis

import socketeer
from socketeer.adapters.recovery import ConnectionStateRecovery
from socketeer.adapters.streams import StreamsAdapterFactory, create_streams_adapter

from .node import NodeScripts

pytestmark = pytest.mark.redis

REDIS_URL = "redis://127.0.0.1:6379/0"


class SwitchProxy:
    """A TCP proxy whose new connections go to ``target`` (a port), changeable."""

    def __init__(self) -> None:
        self.target = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.close()
            return
        self._writers += [writer, up_writer]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(ConnectionError, RuntimeError):
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        with contextlib.suppress(Exception):
            await self._server.wait_closed()


def entry_id(offset: str) -> tuple[int, int]:
    """A stream entry id ``<ms>-<seq>`` (the recovery offset), comparable."""
    milliseconds, sequence = offset.split("-")
    return int(milliseconds), int(sequence)


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


async def test_recovery_across_python_and_node(serve_asgi: Any, node: NodeScripts) -> None:
    prefix = f"sk-streams-{uuid.uuid4().hex[:10]}"
    stream = f"{prefix}-stream"
    sessions = f"{prefix}:session:"
    factory: StreamsAdapterFactory = create_streams_adapter(
        REDIS_URL,
        stream_name=stream,
        channel_prefix=prefix,
        session_key_prefix=sessions,
        block_time=1.0,
    )
    io = socketeer.Server(
        adapter=factory,
        connection_state_recovery=ConnectionStateRecovery(max_disconnection_duration=60),
    )
    py_url = await serve_asgi(socketeer.ASGIApp(io))
    options = {
        "redis": REDIS_URL,
        "key": prefix,
        "label": "js",
        "recovery": True,
        "streams": {"streamName": stream, "sessionKeyPrefix": sessions},
    }
    js = await node("redis_node", json.dumps(options))
    js_port = (await js.expect("listening"))["port"]
    proxy = SwitchProxy()
    await proxy.start()
    raw = aioredis.Redis.from_url(REDIS_URL)
    try:
        proxy.target = js_port
        client_options = {
            "transports": ["websocket"],
            "reconnectionDelay": 300,
            "reconnectionDelayMax": 300,
            "auth": {"rooms": ["room"]},
        }
        client = await node(
            "recovery_client", f"http://127.0.0.1:{proxy.port}", json.dumps(client_options)
        )
        first = await client.expect("connect")
        assert first["recovered"] is False
        sid = first["id"]
        await js.expect("connection")
        assert await io.of("/").adapter.server_count() == 2

        # a broadcast of the Python node reaches the client of the Node node, with its offset
        io.to("room").emit("e1", b"\x01")
        e1 = await client.expect("event")
        assert e1["name"] == "e1"
        assert e1["args"][0] == {"hex": "01"}
        offset = e1["args"][-1]
        assert isinstance(offset, str)

        # the client drops from the Node node (which stores its session in Redis) ...
        proxy.target = port_of(py_url)
        await client.send({"cmd": "cut"})
        await client.expect("disconnect")
        # ... misses broadcasts of both nodes ...
        io.to("room").emit("e2")
        io.emit("e3", {"n": 3})
        io.to("elsewhere").emit("not-for-it")
        await js.send({"cmd": "emit", "event": "e4", "args": [4]})
        await factory.link.publisher.send("PING")  # every XADD before it is done
        # ... and reconnects to the Python node, which restores it
        second = await client.expect("connect")
        assert second == {**second, "recovered": True, "id": sid}
        missed = [await client.expect("event") for _ in range(3)]
        names = [event["name"] for event in missed]
        assert sorted(names) == ["e2", "e3", "e4"]
        assert names.index("e2") < names.index("e3")  # one node's broadcasts stay in order
        for event in missed:
            assert entry_id(event["args"][-1]) > entry_id(offset)  # later in the stream
        socket = next(iter(io.of("/").sockets.values()))
        assert socket.id == sid
        assert socket.recovered
        assert socket.rooms == {sid, "room"}

        # the other way round: Python stores the session, Node restores it
        io.emit("e5")
        last = (await client.expect("event"))["args"][-1]
        proxy.target = js_port
        await client.send({"cmd": "cut"})
        await client.expect("disconnect")
        await js.send({"cmd": "emit", "event": "e6"})
        third = await client.expect("connect")
        assert third["recovered"] is True
        assert third["id"] == sid
        e6 = await client.expect("event")
        assert e6["name"] == "e6"
        assert entry_id(e6["args"][-1]) > entry_id(last)
        reconnected = await js.expect("connection")
        assert reconnected["recovered"] is True
    finally:
        await proxy.close()
        await raw.delete(stream)
        await raw.aclose()
