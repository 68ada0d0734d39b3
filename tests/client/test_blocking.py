"""``BlockingClient`` from plain synchronous code: no asyncio in these tests.

The server runs on an event loop of its own thread (``ThreadedServer``); what it sees
arrives in thread-safe queues, and every wait is bounded.
"""

from __future__ import annotations

import asyncio
import queue
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

import socketeer
from socketeer.client import BlockingClient
from socketeer.exceptions import AckTimeout, ConnectionFailed, ConnectionRefusedByServer

from .helpers import _ReadyServer

T = TypeVar("T")
TIMEOUT = 5.0


def take(q: queue.Queue[T], within: float = TIMEOUT) -> T:
    try:
        return q.get(timeout=within)
    except queue.Empty:
        raise AssertionError(f"nothing arrived within {within} s") from None


class ThreadedServer:
    """A socketeer server on its own loop thread; events land in thread-safe queues."""

    def __init__(self) -> None:
        self.events: queue.Queue[tuple[str, list[Any]]] = queue.Queue()
        self.connections: queue.Queue[socketeer.Socket] = queue.Queue()
        self.disconnects: queue.Queue[str] = queue.Queue()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="test-server")
        self.thread.start()
        self.url = self.run(self._start())

    def run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(TIMEOUT)

    def call(self, function: Callable[[], T]) -> T:
        async def call() -> T:
            return function()

        return self.run(call())  # type: ignore[no-any-return]

    async def _start(self) -> str:
        io = self.io = socketeer.Server()
        self.release = asyncio.Event()

        async def hang(*args: Any) -> None:
            await self.release.wait()  # answers only at the end

        def on_connection(sock: socketeer.Socket) -> None:
            def on_any(name: str, *args: Any) -> None:
                self.events.put((name, list(args)))

            sock.on_any(on_any)
            sock.on("echo", lambda *args: args)
            sock.on("hang", hang)
            sock.on("disconnect", self.disconnects.put)
            self.connections.put(sock)

        io.on("connection", on_connection)
        io.of("/chat").on("connection", on_connection)
        refusing = io.of("/private")

        @refusing.use
        def refuse(sock: socketeer.Socket) -> None:
            raise socketeer.ConnectionRefusedByServer("nope", {"why": "test"})

        import uvicorn

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        config = uvicorn.Config(
            socketeer.ASGIApp(io), lifespan="off", log_level="warning", log_config=None,
            ws="websockets-sansio",
        )  # fmt: skip
        self.server = _ReadyServer(config)
        self.task = asyncio.ensure_future(self.server.serve(sockets=[self.sock]))
        await asyncio.wait_for(self.server.ready.wait(), TIMEOUT)
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    async def _stop(self) -> None:
        self.release.set()
        await self.io.close()
        self.server.should_exit = True
        await asyncio.wait_for(self.task, TIMEOUT)
        self.sock.close()

    def stop(self) -> None:
        try:
            self.run(self._stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(TIMEOUT)
            self.loop.close()


@pytest.fixture
def server() -> Iterator[ThreadedServer]:
    served = ThreadedServer()
    try:
        yield served
    finally:
        served.stop()


def client_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name == "socketeer-client-loop"]


@pytest.mark.parametrize("transports", [("polling",), ("websocket",), ("polling", "websocket")])
def test_emit_acks_handlers_both_ways(server: ThreadedServer, transports: tuple[str, ...]) -> None:
    news: queue.Queue[Any] = queue.Queue()
    acks: queue.Queue[Any] = queue.Queue()
    handler_threads: set[str] = set()
    before = len(client_threads())

    with BlockingClient(server.url, transports=transports) as client:
        assert client.connected
        sock = take(server.connections)
        assert client.id == sock.id

        def on_question(a: int, b: bytes) -> tuple[int, bytes]:
            handler_threads.add(threading.current_thread().name)
            # A handler may use the blocking API: the connection keeps running meanwhile.
            assert client.emit_with_ack("echo", "from a handler") == "from a handler"
            return a + 1, b + b"!"

        client.on("question", on_question)
        client.on("news", news.put)
        answer = server.run(sock.timeout(TIMEOUT).emit_with_ack("question", 41, b"\x01"))
        assert answer == (42, b"\x01!")
        assert handler_threads == {"socketeer-handlers_0"}

        assert client.emit_with_ack("echo", b"\x00\xff", {"k": [1]}) == (b"\x00\xff", {"k": [1]})
        client.emit("echo", "cb", callback=lambda *args: acks.put(args))
        assert take(acks) == ("cb",)
        assert client.timeout(TIMEOUT).emit_with_ack("echo", 3) == 3
        server.call(lambda: sock.emit("news", {"n": 1}))
        assert take(news) == {"n": 1}
        client.send("hello")
        names = [take(server.events)[0] for _ in range(5)]
        assert names == ["echo"] * 4 + ["message"]
        assert client.transport in transports
    assert take(server.disconnects) == "client namespace disconnect"
    assert len(client_threads()) == before  # the loop thread is gone


def test_namespaces_catch_all_and_manager_events(server: ThreadedServer) -> None:
    incoming: queue.Queue[tuple[Any, ...]] = queue.Queue()
    outgoing: queue.Queue[tuple[Any, ...]] = queue.Queue()
    reconnects: queue.Queue[int] = queue.Queue()
    client = BlockingClient(server.url, transports=("websocket",), reconnection_delay=0.05)
    try:
        client.on_any(lambda *args: incoming.put(args))
        client.on_any_outgoing(lambda *args: outgoing.put(args))
        client.io.on("reconnect", reconnects.put)
        client.connect()
        main = take(server.connections)
        chat = client.socket("/chat")
        chat.connect()
        chat_sock = take(server.connections)
        assert chat_sock.conn is main.conn
        assert chat.emit_with_ack("echo", "chat") == "chat"
        client.emit("up", 1)
        assert take(outgoing) == ("up", 1)
        server.call(lambda: main.emit("down", 2))
        assert take(incoming) == ("down", 2)

        server.call(lambda: main.conn.close())  # the connection drops: both reconnect
        assert take(reconnects) == 1
        again = {s.nsp.name: s for s in (take(server.connections), take(server.connections))}
        assert client.emit_with_ack("echo", "back") == "back"
        assert chat.emit_with_ack("echo", "back too") == "back too"
        assert client.io.ready_state == "open"
        chat.disconnect()
        assert not chat.active
        with pytest.raises(TimeoutError):
            client.wait(timeout=0.01)  # still connected
        server.call(lambda: again["/"].disconnect())  # the last socket leaves: it closes
        client.wait(timeout=TIMEOUT)
        assert client.io.ready_state == "closed"
    finally:
        client.close()
        client.close()  # twice is fine


def test_connect_errors(server: ThreadedServer) -> None:
    with BlockingClient(server.url, transports=("websocket",)) as client:
        private = client.socket("/private")
        with pytest.raises(ConnectionRefusedByServer) as info:
            private.connect()
        assert (info.value.message, info.value.data) == ("nope", {"why": "test"})
        with pytest.raises(AckTimeout):
            client.timeout(0.05).emit_with_ack("hang")
        answers: queue.Queue[Any] = queue.Queue()
        client.timeout(0.05).emit("hang", callback=answers.put)
        assert isinstance(take(answers), AckTimeout)

    with pytest.raises(ConnectionFailed):
        BlockingClient("http://127.0.0.1:9", reconnection=False).__enter__()
    slow = BlockingClient("http://127.0.0.1:9", reconnection_delay=0.05)
    try:
        with pytest.raises(TimeoutError):
            slow.connect(timeout=0.2)
        assert not slow.active
    finally:
        slow.close()


def test_handler_and_callable_errors_do_not_break_the_client(server: ThreadedServer) -> None:
    with BlockingClient(server.url, transports=("websocket",)) as client:
        sock = take(server.connections)

        def broken(*args: Any) -> None:
            raise RuntimeError("boom")

        client.on("broken", broken)
        assert server.run(sock.timeout(TIMEOUT).emit_with_ack("broken")) is None
        client.off("broken", broken)
        client.off("broken")
        client.off_any()
        client.off_any_outgoing()
        assert client.emit_with_ack("echo", "alive") == "alive"
        client.close()
        with pytest.raises(RuntimeError, match="closed"):
            client.emit("after close")
